// handler.batch in the dispatcher alone: an in-memory source, a batch handler settled by hand and a
// fake clock, so batch sizes, the max_wait_ms timer and the per-message outcomes are exact.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PermanentError, TimeoutError } from '../../src/errors.ts';
import { batchRig, settle } from './batch-rig.ts';

const bodies = (n: number): string[] => Array.from({ length: n }, (_, i) => JSON.stringify({ n: i + 1 }));
const ids = (items: { id: string }[]): string[] => items.map((item) => item.id);
const results = (messages: { body: unknown }[]): unknown[] => messages.map((m) => ({ done: (m.body as { n: number }).n }));

describe('dispatcher: batch handlers', () => {
  it('hands over batches of at most max_size, and a partial batch max_wait_ms after its first message', async () => {
    const rig = await batchRig({ concurrency: 10, batchSize: 10, batch: { maxSize: 4, maxWaitMs: 50 } });
    rig.source.push(bodies(10));
    await settle();
    assert.deepEqual(rig.handler.sizes, [4, 4], 'two full batches at once; the last two wait for more');
    assert.equal(rig.dispatcher.inFlight, 10, 'each message of a batch, waiting or running, holds a slot');
    await rig.clock.advance(49);
    assert.deepEqual(rig.handler.sizes, [4, 4]);
    await rig.clock.advance(1);
    assert.deepEqual(rig.handler.sizes, [4, 4, 2], 'the partial batch goes max_wait_ms after its first message');
    assert.deepEqual(
      rig.handler.calls.flatMap((call) => ids(call.messages)),
      ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'],
      'in fetch order',
    );
    for (const call of rig.handler.calls) call.resolve(results(call.messages));
    await settle();
    assert.equal(rig.source.acked.length, 10);
    assert.equal(rig.written.length, 10, 'one output per message');
    assert.deepEqual(rig.written.slice(0, 2), ['{"done":1}', '{"done":2}']);
    assert.deepEqual(rig.observer.outcomes, Array(10).fill('ok'));
    assert.equal(rig.observer.durations.length, 10, 'durations per message');
    assert.deepEqual(await rig.dispatcher.stop(1000), []);
  });

  it('retries a failed element alone: the rest of its batch is acked with its outputs written', async () => {
    const rig = await batchRig({ concurrency: 10, batch: { maxSize: 3, maxWaitMs: 50 } });
    rig.source.push(bodies(3));
    await settle();
    const [first] = rig.handler.calls;
    first?.resolve([{ done: 1 }, new Error('row 2 rejected'), { done: 3 }]);
    await settle();
    assert.deepEqual(ids(rig.source.acked), ['1', '3']);
    assert.deepEqual(rig.written, ['{"done":1}', '{"done":3}']);
    assert.equal(rig.observer.retries, 1);
    await rig.clock.advance(1000); // retry_delay_ms
    await rig.clock.advance(50); // max_wait_ms: it is alone in its batch
    assert.deepEqual(rig.handler.sizes, [3, 1]);
    const retry = rig.handler.calls[1];
    assert.deepEqual(ids(retry?.messages ?? []), ['2']);
    assert.equal(retry?.messages[0]?.attempt, 2);
    retry?.resolve([{ done: 2 }]);
    await settle();
    assert.deepEqual(ids(rig.source.acked), ['1', '3', '2']);
    assert.deepEqual(rig.deadLetters.sent, []);
    assert.deepEqual(await rig.dispatcher.stop(1000), []);
  });

  it('dead-letters a PermanentError element alone, after its dead letter is written; the others are acked', async () => {
    const rig = await batchRig({ concurrency: 10, batch: { maxSize: 3, maxWaitMs: 50 } });
    rig.source.push(bodies(3));
    await settle();
    rig.handler.calls[0]?.resolve([{ done: 1 }, { done: 2 }, new PermanentError('unknown product')]);
    await settle();
    assert.deepEqual(
      rig.deadLetters.sent.map((d) => [d.messageId, d.reason, d.error]),
      [['3', 'permanent_error', 'unknown product']],
    );
    assert.deepEqual(ids(rig.source.acked), ['1', '2', '3']);
    assert.ok(rig.events.indexOf('dead letter 3') < rig.events.indexOf('ack 3'), 'acked after its dead letter');
    assert.deepEqual(rig.written, ['{"done":1}', '{"done":2}']);
    assert.equal(rig.observer.retries, 0);
    assert.deepEqual(await rig.dispatcher.stop(1000), []);
  });

  it('a thrown error fails every message of the batch; they are retried together', async () => {
    const rig = await batchRig({ concurrency: 10, batch: { maxSize: 3, maxWaitMs: 50 } });
    rig.source.push(bodies(3));
    await settle();
    rig.handler.calls[0]?.reject(new Error('bulk insert failed'));
    await settle();
    assert.equal(rig.observer.retries, 3);
    assert.equal(rig.source.acked.length, 0);
    await rig.clock.advance(1000);
    assert.deepEqual(rig.handler.sizes, [3, 3], 'the three retries are due together and fill one batch');
    assert.deepEqual(
      rig.handler.calls[1]?.messages.map((m) => m.attempt),
      [2, 2, 2],
    );
    rig.handler.calls[1]?.resolve([undefined, undefined, undefined]);
    await settle();
    assert.equal(rig.source.acked.length, 3);
    assert.deepEqual(rig.written, [], 'undefined results write nothing');
    assert.deepEqual(await rig.dispatcher.stop(1000), []);
  });

  it('a result of the wrong length or shape fails the whole batch with a clear error, never the worker', async () => {
    const rig = await batchRig({ concurrency: 10, maxRetries: 1, batch: { maxSize: 2, maxWaitMs: 50 } });
    rig.source.push(bodies(2));
    await settle();
    rig.handler.calls[0]?.resolve([{ done: 1 }]);
    await settle();
    assert.equal(rig.observer.retries, 2);
    assert.equal(rig.source.acked.length, 0);
    await rig.clock.advance(1000);
    rig.handler.calls[1]?.resolve({ done: 'everything' });
    await settle();
    assert.deepEqual(
      rig.deadLetters.sent.map((d) => [d.messageId, d.reason, d.error]),
      [
        ['1', 'retries_exhausted', 'the batch handler returned object, not an array with one result per message (2)'],
        ['2', 'retries_exhausted', 'the batch handler returned object, not an array with one result per message (2)'],
      ],
    );
    assert.deepEqual(ids(rig.source.acked), ['1', '2'], 'acked once dead-lettered');
    assert.deepEqual(await rig.dispatcher.stop(1000), []);
  });

  it('the wrong-length error names both counts', async () => {
    const rig = await batchRig({ concurrency: 10, maxRetries: 0, batch: { maxSize: 3, maxWaitMs: 50 } });
    rig.source.push(bodies(3));
    await settle();
    rig.handler.calls[0]?.resolve([1, 2, 3, 4]);
    await settle();
    assert.deepEqual(
      rig.deadLetters.sent.map((d) => d.error),
      Array(3).fill('the batch handler returned 4 results for a batch of 3 messages'),
    );
    await rig.dispatcher.stop(1000);
  });

  it('processing_timeout_ms runs from the hand-over for the whole call: one signal, every message fails, late results are discarded', async () => {
    const rig = await batchRig({ concurrency: 10, processingTimeoutMs: 1000, batch: { maxSize: 5, maxWaitMs: 400 } });
    rig.source.push(bodies(2));
    await settle();
    await rig.clock.advance(400);
    const call = rig.handler.calls[0];
    assert.equal(call?.messages.length, 2);
    await rig.clock.advance(900);
    assert.equal(call?.context.signal.aborted, false, 'the wait for the batch to fill is not part of the timeout');
    await rig.clock.advance(200);
    assert.equal(call?.context.signal.aborted, true);
    assert.ok(call?.context.signal.reason instanceof TimeoutError);
    assert.equal(rig.observer.retries, 2);
    call?.resolve([{ late: 1 }, { late: 2 }]);
    await settle();
    assert.deepEqual(rig.written, [], 'the late result of a timed-out batch is discarded');
    assert.equal(rig.source.acked.length, 0);
    await rig.clock.advance(1000);
    await rig.clock.advance(400);
    assert.deepEqual(
      rig.handler.calls[1]?.messages.map((m) => m.attempt),
      [2, 2],
    );
    rig.handler.calls[1]?.resolve([{ ok: 1 }, { ok: 2 }]);
    await settle();
    assert.equal(rig.source.acked.length, 2);
    assert.deepEqual(await rig.dispatcher.stop(1000), []);
  });

  it('concurrency caps the messages in flight across batches: a new batch fills only as slots free', async () => {
    const rig = await batchRig({ concurrency: 4, batchSize: 10, batch: { maxSize: 4, maxWaitMs: 50 } });
    rig.source.push(bodies(9));
    await settle();
    assert.deepEqual(rig.handler.sizes, [4]);
    assert.equal(rig.source.queued, 5, 'nothing fetched beyond concurrency');
    rig.handler.calls[0]?.resolve(results(rig.handler.calls[0].messages));
    await settle();
    assert.deepEqual(rig.handler.sizes, [4, 4]);
    rig.handler.calls[1]?.resolve(results(rig.handler.calls[1].messages));
    await settle();
    await rig.clock.advance(50);
    assert.deepEqual(rig.handler.sizes, [4, 4, 1]);
    rig.handler.calls[2]?.resolve([{ done: 9 }]);
    await settle();
    assert.equal(rig.source.acked.length, 9);
    assert.ok(Math.max(...rig.observer.inFlightSeen) <= 4);
    assert.deepEqual(await rig.dispatcher.stop(1000), []);
  });

  it('at shutdown the batch being collected is handed over at once, and the drain waits for it', async () => {
    const rig = await batchRig({ concurrency: 10, batch: { maxSize: 5, maxWaitMs: 10_000 } });
    rig.source.push(bodies(2));
    await settle();
    assert.deepEqual(rig.handler.sizes, []);
    const stopped = rig.dispatcher.stop(5000);
    await settle();
    assert.deepEqual(rig.handler.sizes, [2]);
    rig.handler.calls[0]?.resolve([{ done: 1 }, { done: 2 }]);
    assert.deepEqual(await stopped, []);
    assert.equal(rig.source.acked.length, 2);
  });

  it('a handler that throws synchronously or resolves to Errors only fails messages, each on its own path', async () => {
    const rig = await batchRig({ concurrency: 10, maxRetries: 0, batch: { maxSize: 2, maxWaitMs: 50 } }, false);
    rig.source.push(bodies(2));
    await settle();
    const retryable = Object.assign(new Error('flaky'), { retryable: true });
    rig.handler.calls[0]?.resolve([retryable, { not: 'an error' }]);
    await settle();
    assert.deepEqual(
      rig.deadLetters.sent.map((d) => [d.messageId, d.reason]),
      [['1', 'retries_exhausted']],
    );
    assert.deepEqual(ids(rig.source.acked), ['2', '1']);
    await rig.dispatcher.stop(1000);
  });
});
