// The ordering gate inside the dispatcher, alone: an in-memory source (order per process, as for a
// channel source), a handler settled by hand and a fake clock. Across workers: test/flow/ordering.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { parseOrderingKey, orderingKeyOf, type OrderingKeySpec } from '../../src/config/ordering-key.ts';
import { OrderingGate } from '../../src/flow/ordering.ts';
import { createOpener } from '../../src/runtime/decode.ts';
import type { Work } from '../../src/runtime/attempt.ts';
import { dispatcherRig, settle } from '../dispatcher/harness.ts';

function spec(text: string): OrderingKeySpec {
  const parsed = parseOrderingKey(text);
  assert.ok(parsed.ok);
  return parsed.spec;
}

function gate(maxInFlight = 1): OrderingGate<Work> {
  return new OrderingGate<Work>(spec('/key'), maxInFlight, createOpener(1_048_576), undefined, pino({ level: 'silent' }));
}

const msg = (key: string | undefined, n: number): string => JSON.stringify(key === undefined ? { n } : { key, n });
const running = (rig: Awaited<ReturnType<typeof dispatcherRig>>): string[] =>
  rig.handler.calls.map((c) => `${(c.message.body as { key?: string }).key ?? '-'}#${(c.message.body as { n: number }).n}`);

describe('ordering.key', () => {
  it('parses JSON pointers (RFC 6901 escapes) and header:NAME, and rejects the rest', () => {
    assert.deepEqual(parseOrderingKey('/a~1b/c~0d/0'), { ok: true, spec: { kind: 'pointer', tokens: ['a/b', 'c~d', '0'] } });
    assert.deepEqual(parseOrderingKey('header:tenant'), { ok: true, spec: { kind: 'header', name: 'tenant' } });
    for (const bad of ['customer', '', 'header:', '/a~2', '/a~']) assert.equal(parseOrderingKey(bad).ok, false, bad);
  });

  it('reads strings, numbers and booleans; anything else is no key', () => {
    const body = { customer: { id: 42, name: 'x', tags: ['a', 'b'], none: null, ok: true }, 'a/b': 's' };
    assert.equal(orderingKeyOf(spec('/customer/id'), body, {}), '42');
    assert.equal(orderingKeyOf(spec('/customer/name'), body, {}), 'x');
    assert.equal(orderingKeyOf(spec('/customer/ok'), body, {}), 'true');
    assert.equal(orderingKeyOf(spec('/customer/tags/1'), body, {}), 'b');
    assert.equal(orderingKeyOf(spec('/a~1b'), body, {}), 's');
    for (const missing of ['/customer', '/customer/none', '/customer/tags', '/customer/tags/01', '/nope/x', '/customer/id/x'])
      assert.equal(orderingKeyOf(spec(missing), body, {}), undefined, missing);
    assert.equal(orderingKeyOf(spec('/constructor'), {}, {}), undefined, 'only own properties');
    assert.equal(orderingKeyOf(spec('header:tenant'), body, { tenant: 't1' }), 't1');
    assert.equal(orderingKeyOf(spec('header:tenant'), body, {}), undefined);
  });
});

describe('ordering gate in the dispatcher', () => {
  it('one message of a key at a time, in fetch order; other keys in parallel', async () => {
    const rig = await dispatcherRig({ concurrency: 5 }, undefined, { ordering: gate() });
    rig.source.push([msg('a', 1), msg('a', 2), msg('b', 1), msg('a', 3), msg('b', 2)]);
    await settle();
    assert.deepEqual(running(rig), ['a#1', 'b#1']);
    rig.handler.calls[0]?.resolve();
    await settle();
    assert.deepEqual(running(rig), ['a#1', 'b#1', 'a#2']);
    rig.handler.calls[1]?.resolve();
    rig.handler.calls[2]?.resolve();
    await settle();
    assert.deepEqual(running(rig).slice(3).sort(), ['a#3', 'b#2']);
  });

  it('held messages hold no slot: other keys use the whole concurrency', async () => {
    const rig = await dispatcherRig({ concurrency: 2, batchSize: 10 }, undefined, { ordering: gate() });
    rig.source.push([msg('a', 1), msg('a', 2), msg('a', 3), msg('b', 1), msg('c', 1)]);
    await settle();
    assert.deepEqual(running(rig), ['a#1', 'b#1']);
    rig.handler.calls[1]?.resolve();
    await settle();
    assert.deepEqual(running(rig), ['a#1', 'b#1', 'c#1']);
  });

  it('a retry holds back the later messages of its key; a dead letter releases them', async () => {
    const rig = await dispatcherRig({ concurrency: 5, maxRetries: 1 }, undefined, { ordering: gate() });
    rig.source.push([msg('a', 1), msg('a', 2), msg('b', 1)]);
    await settle();
    rig.handler.calls[0]?.reject(new Error('boom'));
    await settle();
    assert.deepEqual(running(rig), ['a#1', 'b#1'], 'a#2 waits while a#1 waits for its retry');
    await rig.clock.advance(1000);
    assert.deepEqual(running(rig), ['a#1', 'b#1', 'a#1']);
    rig.handler.calls[2]?.reject(new Error('boom again'));
    await settle();
    assert.equal(rig.deadLetters.sent.length, 1, 'retries exhausted: dead-lettered');
    assert.deepEqual(running(rig), ['a#1', 'b#1', 'a#1', 'a#2'], 'the dead letter released a#2');
  });

  it('a message without the key runs at once, unordered', async () => {
    const rig = await dispatcherRig({ concurrency: 5 }, undefined, { ordering: gate() });
    rig.source.push([msg('a', 1), msg('a', 2), msg(undefined, 3), 'not json']);
    await settle();
    assert.deepEqual(running(rig), ['a#1', '-#3']);
    assert.equal(rig.deadLetters.sent.length, 1, 'the undecodable one is dead-lettered, holding nothing back');
  });

  it('max_in_flight_per_key 2: two of a key at once, started in order', async () => {
    const rig = await dispatcherRig({ concurrency: 5 }, undefined, { ordering: gate(2) });
    rig.source.push([msg('a', 1), msg('a', 2), msg('a', 3), msg('a', 4)]);
    await settle();
    assert.deepEqual(running(rig), ['a#1', 'a#2']);
    rig.handler.calls[1]?.resolve();
    await settle();
    assert.deepEqual(running(rig), ['a#1', 'a#2', 'a#3']);
  });

  it("a key's next message starts when its turn comes, even while the loop waits for a rate_limit permit", async () => {
    let granted = 2;
    let interrupted: (() => void) | undefined;
    const permits = {
      // Two permits, then none until the dispatcher stops.
      take: (wanted: number) => {
        const now = Math.min(wanted, granted);
        granted -= now;
        return now > 0 ? Promise.resolve(now) : new Promise<number>((resolve) => (interrupted = () => resolve(0)));
      },
      giveBack: () => undefined,
      interrupt: () => interrupted?.(),
    };
    const rig = await dispatcherRig({ concurrency: 5 }, undefined, { ordering: gate(), permits });
    rig.source.push([msg('a', 1), msg('a', 2)]);
    await settle();
    assert.deepEqual(running(rig), ['a#1']);
    rig.handler.calls[0]?.resolve();
    await settle();
    assert.deepEqual(running(rig), ['a#1', 'a#2'], 'a#2 holds its permit already: it does not wait for another');
    rig.handler.calls[1]?.resolve();
    const stopped = rig.dispatcher.stop(0);
    await rig.clock.advance(1);
    await stopped;
  });

  it('held messages are handed back unacknowledged at stop', async () => {
    const rig = await dispatcherRig({ concurrency: 5 }, undefined, { ordering: gate() });
    const pushed = rig.source.push([msg('a', 1), msg('a', 2), msg('a', 3)]);
    await settle();
    const stopped = rig.dispatcher.stop(0);
    await settle();
    await rig.clock.advance(1);
    const unfinished = await stopped;
    assert.deepEqual(unfinished.map((d) => d.id).sort(), pushed.map((d) => d.id).sort());
    assert.equal(rig.source.acked.length, 0);
  });
});
