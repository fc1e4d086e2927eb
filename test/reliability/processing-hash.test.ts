// The at-least-once list's in-flight structure: a per-consumer hash of id → payload (ids from the
// queue's counter). Its recovery paths: a dead consumer's hash, a processing list left by an earlier
// version, a reconcile after the reader reconnects, and the count of a recovered item going with its ack.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/runtime/logger.ts';
import { keys } from '../../src/redis/keys.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { PipelineDir, pipelineYaml } from '../helpers/pipelines.ts';
import { startRedis, type RedisServer } from '../helpers/redis-server.ts';
import { waitFor } from '../helpers/wait.ts';

const quiet = createLogger('silent');

describe('reliability: the processing hash of an at-least-once list', () => {
  let server: RedisServer;
  const dir = new PipelineDir();
  const handler = path.join(dir.dir, 'counts.mjs');
  before(async () => {
    server = await startRedis();
    process.env.REDIS_URL = server.url;
    // Records each message's id and delivery count, in the order handled.
    writeFileSync(
      handler,
      `export default function counts(message) { return { id: message.body.id, deliveryCount: message.deliveryCount }; }\n`,
    );
  });
  after(async () => {
    await server.stop();
    dir.remove();
  });

  const load = (name: string, source: string, extra = 'concurrency: 1') =>
    dir.load(name, pipelineYaml(name, { source, handler: `{module: "${handler}"}`, output: `{list: "${name}:out"}` }, extra));
  const results = async (name: string) =>
    (await server.client().lrange(`${name}:out`, 0, -1)).map((r) => JSON.parse(r) as { id: number; deliveryCount: number }).reverse();

  it("a dead consumer's hash goes back to the queue oldest first, each delivery counted, the count gone with the ack", async () => {
    const name = 'dead-hash';
    const key = `q:${name}`;
    const client = server.client();
    // A consumer that died (no heartbeat) holding ids 7, 8, 9 (7 fetched first), and one queued item.
    await client.hset(keys.processing(key, 'ghost'), '8', '{"id":2}', '7', '{"id":1}', '9', '{"id":3}');
    await client.sadd(keys.consumers(key), 'ghost');
    await client.lpush(key, '{"id":4}');
    const loaded = await load(name, `  list: {key: "${key}", batch_size: 10, max_deliveries: 5}`);
    const worker = await Worker.start([loaded], { logger: quiet });
    try {
      await waitFor('four messages handled', async () => (await client.llen(`${name}:out`)) >= 4);
    } finally {
      await worker.stop();
    }
    assert.deepEqual(await results(name), [
      { id: 1, deliveryCount: 2 },
      { id: 2, deliveryCount: 2 },
      { id: 3, deliveryCount: 2 },
      { id: 4, deliveryCount: 1 },
    ]);
    assert.equal(await client.exists(keys.processing(key, 'ghost')), 0);
    assert.equal(await client.sismember(keys.consumers(key), 'ghost'), 0, 'the dead consumer is forgotten');
    assert.equal(await client.exists(keys.deliveries(key)), 0, 'each count went with its ack');
    assert.deepEqual(await client.keys(`{${key}}:processing:*`), [], 'nothing left in flight after a clean stop');
  });

  it('a processing list left by an earlier version is recovered too', async () => {
    const name = 'legacy-list';
    const key = `q:${name}`;
    const client = server.client();
    // The earlier layout: LPUSHed as fetched, so the oldest is at the right.
    await client.lpush(keys.processing(key, 'old'), '{"id":1}', '{"id":2}');
    await client.sadd(keys.consumers(key), 'old');
    const loaded = await load(name, `  list: {key: "${key}", batch_size: 10}`);
    const worker = await Worker.start([loaded], { logger: quiet });
    try {
      await waitFor('two messages handled', async () => (await client.llen(`${name}:out`)) >= 2);
    } finally {
      await worker.stop();
    }
    assert.deepEqual(await results(name), [
      { id: 1, deliveryCount: 2 },
      { id: 2, deliveryCount: 2 },
    ]);
    assert.equal(await client.exists(keys.processing(key, 'old')), 0);
  });

  it("after the reader reconnects, items in this consumer's hash that it does not know go back to the queue", async () => {
    const name = 'reconcile';
    const key = `q:${name}`;
    const client = server.client();
    const loaded = await load(name, `  list: {key: "${key}", batch_size: 10, consumer: c1, block_timeout_ms: 200}`);
    const worker = await Worker.start([loaded], { logger: quiet });
    try {
      await client.lpush(key, '{"id":1}');
      await waitFor('the first message handled', async () => (await client.llen(`${name}:out`)) >= 1);
      // What a fetch whose reply was lost in a reconnect leaves: an item in our hash that no delivery holds.
      await client.hset(keys.processing(key, 'c1'), '1000000', '{"id":2}');
      // Drop every connection of the worker: its reader reconnects and reconciles before its next fetch.
      const ours = (await client.client('LIST')) as string;
      for (const line of ours.split('\n')) {
        const id = /^id=(\d+) /.exec(line)?.[1];
        const me = String(await client.client('ID'));
        if (id && id !== me) await client.client('KILL', 'ID', id);
      }
      await waitFor('the lost item handled', async () => (await client.llen(`${name}:out`)) >= 2, { timeoutMs: 20_000 });
    } finally {
      await worker.stop();
    }
    assert.deepEqual(
      (await results(name)).map((r) => r.id),
      [1, 2],
    );
    assert.deepEqual(await client.keys(`{${key}}:processing:*`), []);
  });
});
