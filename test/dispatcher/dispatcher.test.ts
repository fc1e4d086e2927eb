// The dispatcher alone: an in-memory source, a handler settled by hand and a clock advanced by hand,
// so every case is exact and takes no real time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PermanentError, TimeoutError } from '../../src/errors.ts';
import { dispatcherRig, settle } from './harness.ts';

const bodies = (n: number): string[] => Array.from({ length: n }, (_, i) => JSON.stringify({ n: i + 1 }));
const ids = (deliveries: { id: string }[]): string[] => deliveries.map((d) => d.id);

describe('dispatcher: concurrency and backpressure', () => {
  it('runs at most `concurrency` messages and fetches only as many as there are free slots', async () => {
    const rig = await dispatcherRig({ concurrency: 3, batchSize: 10 });
    assert.deepEqual(rig.source.fetches, [3], 'the first fetch asks for the free slots, not the batch size');
    rig.source.push(bodies(10));
    await settle();
    assert.equal(rig.handler.calls.length, 3);
    assert.equal(rig.source.queued, 7, 'nothing fetched beyond the free slots');
    rig.handler.calls[0]?.resolve();
    await settle();
    assert.deepEqual(rig.source.fetches, [3, 1], 'one freed slot, one message asked for');
    assert.equal(rig.handler.calls.length, 4);
    rig.handler.calls[1]?.resolve();
    rig.handler.calls[2]?.resolve();
    await settle();
    assert.deepEqual(rig.source.fetches, [3, 1, 2], 'slots freed in one burst become one fetch');
    for (let i = 0; rig.handler.calls.length < 10 && i < 20; i++) {
      for (const call of rig.handler.calls.slice(3)) call.resolve();
      await settle();
    }
    for (const call of rig.handler.calls) call.resolve();
    await settle();
    assert.equal(rig.handler.calls.length, 10);
    assert.equal(rig.handler.maxRunning, 3, 'never more than concurrency at once');
    assert.ok(Math.max(...rig.observer.inFlightSeen) <= 3);
    assert.equal(rig.source.acked.length, 10);
    assert.deepEqual(await rig.dispatcher.stop(1000), []);
  });
});

describe('dispatcher: retries', () => {
  it('a message waiting for its retry holds no slot: the next message runs meanwhile', async () => {
    const rig = await dispatcherRig({ concurrency: 1 });
    const [a, b] = rig.source.push(bodies(2));
    await settle();
    assert.deepEqual(ids(rig.handler.calls.map((c) => c.message)), [a?.id]);
    rig.handler.calls[0]?.reject(new Error('boom'));
    await settle();
    assert.equal(rig.observer.retries, 1);
    assert.deepEqual(ids(rig.handler.calls.map((c) => c.message)), [a?.id, b?.id], 'b starts while a waits for its retry');
    await rig.clock.advance(999);
    assert.equal(rig.handler.of(a?.id as string).length, 1, 'the retry waits for retry_delay_ms');
    rig.handler.of(b?.id as string)[0]?.resolve();
    await rig.clock.advance(1);
    const retried = rig.handler.of(a?.id as string);
    assert.equal(retried.length, 2, 'retried once the delay is over and a slot is free');
    assert.equal(retried[1]?.message.attempt, 2);
    retried[1]?.resolve();
    await settle();
    assert.deepEqual(ids(rig.source.acked), [b?.id, a?.id]);
    assert.deepEqual(rig.observer.outcomes, ['retried', 'ok', 'ok']);
    assert.deepEqual(await rig.dispatcher.stop(1000), []);
  });

  it('a retry that is due while every slot is taken waits for a slot', async () => {
    const rig = await dispatcherRig({ concurrency: 1 });
    const [a, b] = rig.source.push(bodies(2));
    await settle();
    rig.handler.of(a?.id as string)[0]?.reject(new Error('boom'));
    await rig.clock.advance(5000);
    assert.equal(rig.handler.of(a?.id as string).length, 1, 'b still holds the only slot');
    rig.handler.of(b?.id as string)[0]?.resolve();
    await settle();
    assert.equal(rig.handler.of(a?.id as string).length, 2);
    rig.handler.of(a?.id as string)[1]?.resolve();
    await settle();
    assert.equal(rig.source.acked.length, 2);
    await rig.dispatcher.stop(1000);
  });

  it('the processing timeout applies to running attempts, never to a message waiting for its retry', async () => {
    const rig = await dispatcherRig({
      concurrency: 2,
      processingTimeoutMs: 500,
      backoff: { ...backoff, retry_delay_ms: 2000, retry_max_delay_ms: 2000 },
    });
    const [a, b] = rig.source.push(bodies(2));
    await settle();
    rig.handler.of(a?.id as string)[0]?.reject(new Error('boom'));
    await settle();
    await rig.clock.advance(600);
    const bFirst = rig.handler.of(b?.id as string)[0];
    assert.ok(bFirst?.context.signal.aborted, 'b timed out and its signal is aborted');
    assert.ok(bFirst?.context.signal.reason instanceof TimeoutError);
    assert.equal(rig.handler.of(a?.id as string).length, 1, 'a is still waiting for its retry');
    await rig.clock.advance(1400);
    const aSecond = rig.handler.of(a?.id as string)[1];
    assert.ok(aSecond, 'a retried after 2000 ms');
    assert.equal(aSecond.context.signal.aborted, false, 'the wait did not count against the timeout');
    aSecond.resolve();
    bFirst.resolve('late'); // a late result of a timed-out attempt is discarded
    await settle();
    assert.deepEqual(ids(rig.source.acked), [a?.id]);
    assert.equal(rig.deadLetters.sent.length, 0);
    await rig.dispatcher.stop(0);
  });
});

const backoff = { retry_delay_ms: 1000, retry_backoff: 1, retry_max_delay_ms: 1000, retry_jitter: 0 };

describe('dispatcher: circuit breaker', () => {
  it('an open breaker starts nothing and fetches nothing; half-open lets one trial through; a success closes it', async () => {
    const circuitBreaker = { enabled: true, failure_threshold: 2, reset_timeout_ms: 5000, half_open_max_calls: 1 };
    const rig = await dispatcherRig({ concurrency: 5, maxRetries: 0, circuitBreaker });
    rig.source.push(bodies(2));
    await settle();
    for (const call of rig.handler.calls) call.reject(new Error('down'));
    await settle();
    assert.equal(rig.dispatcher.breaker.state, 'open');
    assert.deepEqual(rig.observer.breakerStates, ['open']);
    const fetchesWhenOpened = rig.source.fetches.length;
    rig.source.push(bodies(3)); // answers the fetch that was already waiting
    await rig.clock.advance(4999);
    assert.equal(rig.handler.calls.length, 2, 'nothing starts while open, even what was fetched');
    assert.equal(rig.source.fetches.length, fetchesWhenOpened, 'no fetch while open');
    await rig.clock.advance(1);
    assert.equal(rig.dispatcher.breaker.state, 'half-open');
    assert.equal(rig.handler.calls.length, 3, 'one trial message');
    rig.handler.calls[2]?.resolve();
    await settle();
    assert.equal(rig.dispatcher.breaker.state, 'closed');
    assert.equal(rig.handler.calls.length, 5, 'closed: the rest start');
    for (const call of rig.handler.calls.slice(3)) call.resolve();
    await settle();
    assert.deepEqual(rig.observer.breakerStates, ['open', 'half-open', 'closed']);
    assert.equal(rig.source.acked.length, 5, 'two dead-lettered, three handled');
    assert.equal(rig.deadLetters.sent.length, 2);
    await rig.dispatcher.stop(0);
  });
});

describe('dispatcher: drain', () => {
  it('stop() waits for in-flight work, fetches nothing more, flushes acks and leaves no timer behind', async () => {
    const rig = await dispatcherRig({ concurrency: 2 });
    rig.source.push(bodies(3));
    await settle();
    let stopped: unknown;
    const stopping = rig.dispatcher.stop(10_000).then((unfinished) => (stopped = unfinished));
    await rig.clock.advance(5000);
    assert.equal(stopped, undefined, 'still draining');
    rig.handler.calls[0]?.resolve();
    await settle();
    assert.equal(stopped, undefined);
    assert.equal(rig.handler.calls.length, 2, 'nothing new starts during a drain');
    rig.handler.calls[1]?.resolve();
    await stopping;
    assert.deepEqual(stopped, []);
    assert.equal(rig.source.acked.length, 2);
    assert.equal(rig.source.queued, 1, 'the third was never fetched');
    assert.ok(rig.source.flushes >= 1, 'acks flushed before stop() returns');
    assert.equal(rig.clock.pendingTimers, 0, 'the sweeper and every sleep are cleared');
  });

  it('work still running when the grace period ends is aborted and returned unacknowledged', async () => {
    const rig = await dispatcherRig({ concurrency: 2 });
    const pushed = rig.source.push(bodies(2));
    await settle();
    rig.handler.calls[0]?.resolve();
    const stopping = rig.dispatcher.stop(1000);
    await rig.clock.advance(1000);
    assert.deepEqual(ids(await stopping), [pushed[1]?.id]);
    assert.ok(rig.handler.calls[1]?.context.signal.aborted);
    rig.handler.calls[1]?.resolve(); // too late: discarded
    await settle();
    assert.deepEqual(ids(rig.source.acked), [pushed[0]?.id]);
  });

  it('messages waiting for a retry are returned unacknowledged', async () => {
    const rig = await dispatcherRig({ concurrency: 2 });
    const [a] = rig.source.push(bodies(1));
    await settle();
    rig.handler.calls[0]?.reject(new Error('boom'));
    await settle();
    assert.deepEqual(ids(await rig.dispatcher.stop(1000)), [a?.id]);
    assert.equal(rig.handler.calls.length, 1, 'no retry after stop()');
    assert.equal(rig.clock.pendingTimers, 0);
  });

  it('the processing timeout holds during a drain: a hung attempt is dead-lettered without waiting for the grace period', async () => {
    const rig = await dispatcherRig({ concurrency: 2, processingTimeoutMs: 500, maxRetries: 0 });
    const [a] = rig.source.push(bodies(1));
    await settle();
    let unfinished: unknown;
    const stopping = rig.dispatcher.stop(60_000).then((u) => (unfinished = u));
    await rig.clock.advance(600);
    assert.ok(rig.handler.calls[0]?.context.signal.aborted, 'the hung attempt was aborted');
    assert.deepEqual(unfinished, [], 'the drain ended at the timeout, not after 60 s of grace');
    await stopping;
    assert.equal(rig.deadLetters.sent[0]?.reason, 'timeout');
    assert.deepEqual(ids(rig.source.acked), [a?.id]);
  });

  it('an attempt that fails during a drain with retries left is returned unacknowledged, not retried', async () => {
    const rig = await dispatcherRig({ concurrency: 2, processingTimeoutMs: 500, maxRetries: 3 });
    const [a, b] = rig.source.push(bodies(2));
    await settle();
    const stopping = rig.dispatcher.stop(60_000);
    rig.handler.of(b?.id as string)[0]?.reject(new Error('boom'));
    await rig.clock.advance(600);
    assert.deepEqual(ids(await stopping).sort(), [a?.id, b?.id].sort());
    assert.equal(rig.handler.calls.length, 2, 'no retry during the drain');
    assert.equal(rig.source.acked.length, 0);
    assert.equal(rig.clock.pendingTimers, 0);
  });
});

describe('dispatcher: dead letters', () => {
  it('the dead letter is written before the ack, and a failed write is retried (no ack meanwhile)', async () => {
    const rig = await dispatcherRig({ concurrency: 1, maxRetries: 0 });
    rig.deadLetters.failures = 2;
    const [a] = rig.source.push(bodies(1));
    await settle();
    rig.handler.calls[0]?.reject(new PermanentError('bad input'));
    await settle();
    assert.deepEqual(rig.events, [`dead letter ${a?.id} failed`]);
    assert.equal(rig.dispatcher.inFlight, 1, 'the message holds its slot while it is dead-lettered');
    await rig.clock.advance(100);
    assert.deepEqual(rig.events, [`dead letter ${a?.id} failed`, `dead letter ${a?.id} failed`]);
    await rig.clock.advance(200);
    assert.deepEqual(rig.events, [`dead letter ${a?.id} failed`, `dead letter ${a?.id} failed`, `dead letter ${a?.id}`, `ack ${a?.id}`]);
    assert.equal(rig.deadLetters.sent[0]?.reason, 'permanent_error');
    assert.equal(rig.dispatcher.inFlight, 0);
    await rig.dispatcher.stop(0);
  });

  it('undecodable payloads and deliveries past max_deliveries are dead-lettered without calling the handler', async () => {
    const rig = await dispatcherRig({ maxDeliveries: { limit: 3, setting: 'source.stream.max_deliveries' } });
    rig.source.push(['not json']);
    rig.source.push(bodies(1), 4);
    await settle();
    assert.equal(rig.handler.calls.length, 0);
    assert.deepEqual(
      rig.deadLetters.sent.map((d) => [d.reason, d.error, d.attempts]),
      [
        ['invalid_json', 'invalid JSON', 0],
        ['max_deliveries', 'delivered 4 times, more than source.stream.max_deliveries (3)', 3],
      ],
    );
    assert.deepEqual(rig.events, ['dead letter 1', 'ack 1', 'dead letter 2', 'ack 2'], 'each dead letter is written before its ack');
    await rig.dispatcher.stop(0);
  });
});

describe('dispatcher: output writes', () => {
  it('a failed output write retries the message and records the attempt duration once', async () => {
    let writes = 0;
    const output = async (): Promise<void> => {
      if (++writes === 1) throw new Error('output down');
    };
    const rig = await dispatcherRig({ concurrency: 1 }, output);
    rig.source.push(bodies(1));
    await settle();
    await rig.clock.advance(250);
    rig.handler.calls[0]?.resolve({ done: true });
    await settle();
    assert.equal(rig.observer.retries, 1, 'the failed write is retried');
    assert.deepEqual(rig.observer.durations, [0.25], 'one duration for one attempt');
    await rig.clock.advance(1000);
    rig.handler.calls[1]?.resolve({ done: true });
    await settle();
    assert.equal(writes, 2);
    assert.equal(rig.observer.durations.length, 2, 'two attempts, two durations');
    assert.equal(rig.source.acked.length, 1);
    await rig.dispatcher.stop(0);
  });
});
