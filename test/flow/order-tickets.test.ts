// The ordering gate with its Redis tickets, two gates on one Redis standing for two workers: turns are
// taken in fetch order, a message dead-lettered on arrival holds its place until acknowledged, and the
// one fetched right behind it does not jump the other worker's message.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { parseOrderingKey } from '../../src/config/ordering-key.ts';
import { OrderTickets } from '../../src/flow/order-tickets.ts';
import { OrderingGate } from '../../src/flow/ordering.ts';
import { planConnection } from '../../src/redis/connection.ts';
import { flowKeys } from '../../src/redis/keys.ts';
import { ConnectionPool } from '../../src/redis/pool.ts';
import type { Delivery } from '../../src/sources/source.ts';
import { createOpener } from '../../src/runtime/decode.ts';
import { recordPipeline } from '../helpers/pipelines.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { waitFor } from '../helpers/wait.ts';

const logger = pino({ level: 'silent' });
type Item = { delivery: Delivery };

function delivery(body: object, id: string): Delivery {
  const raw = Buffer.from(JSON.stringify(body));
  return { id, raw, fields: {}, origin: { kind: 'list', key: 'q' }, deliveryCount: 1, receivedAt: 0, token: raw };
}

describe('ordering across workers (two gates, one Redis)', () => {
  const redis = usePrivateRedis({ exportUrl: true });

  async function worker(): Promise<{ gate: OrderingGate<Item>; tickets: OrderTickets; pool: ConnectionPool; ready: Item[] }> {
    const loaded = await redis.dir.load('tickets', recordPipeline('tickets', '{list: {key: q}}'));
    const pool = new ConnectionPool(planConnection(loaded.config.redis, redis.dir.dir, 'tickets', redis.server.url), 1, () => undefined);
    const settings = { prefix: flowKeys.ordering('q'), leaseTtlMs: 10_000, lockTtlMs: 5000, maxInFlightPerKey: 1, keepUnfinished: true };
    const tickets = new OrderTickets(settings, pool, logger);
    await tickets.start();
    const spec = parseOrderingKey('/key');
    assert.ok(spec.ok);
    const gate = new OrderingGate<Item>(spec.spec, 1, createOpener(1_000_000), tickets, logger);
    const ready: Item[] = [];
    gate.onReady = (item) => ready.push(item);
    return { gate, tickets, pool, ready };
  }

  async function fetched(w: Awaited<ReturnType<typeof worker>>, deliveries: Delivery[]): Promise<void> {
    const token = await w.tickets.lock();
    assert.ok(token);
    await w.gate.register(token, deliveries);
  }

  it('a message right behind one dead-lettered on arrival waits for the other worker, then for that one', async () => {
    const a = await worker();
    const b = await worker();
    const f = delivery({ key: 'k', n: 1 }, 'f');
    await fetched(a, [f]);
    assert.equal(a.gate.enter({ delivery: f }), true, "a's message is first");
    const j = delivery({ key: 'k', n: 2 }, 'j');
    const i = delivery({ key: 'k', n: 3 }, 'i');
    await fetched(b, [j, i]);
    // j never enters (dead-lettered on arrival); i must not run while a's message runs.
    assert.equal(b.gate.enter({ delivery: i }), false);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(b.ready.length, 0, 'still waiting for a');
    a.gate.finished(f);
    await a.gate.flushReleases();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(b.ready.length, 0, "still waiting for j's acknowledgement");
    b.gate.finished(j);
    await waitFor('i ready', () => b.ready.length === 1, { timeoutMs: 5000, intervalMs: 10 });
    b.gate.finished(i);
    await b.gate.flushReleases();
    assert.deepEqual(await redis.client.keys(`${flowKeys.ordering('q')}q:*`), []);
    for (const w of [a, b]) {
      await w.tickets.close([]);
      await w.pool.close();
    }
  });
});
