import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { exited, recordPipeline, spawnWorker, startedCalls } from '../helpers/pipelines.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { waitFor } from '../helpers/wait.ts';

const quiet = createLogger('silent');
const ids = async (client: Redis, key: string) =>
  (await client.lrange(key, 0, -1)).map((r) => JSON.parse(r) as { id: number; max: number });

describe('runtime lifecycle', () => {
  const redis = usePrivateRedis({ appendonly: true, exportUrl: true });

  it('SIGTERM drains: in-flight messages finish, the rest stay queued, exit 0', async () => {
    const name = 'drain';
    const file = redis.dir.write(
      name,
      recordPipeline(name, `  list: {key: "q:${name}", batch_size: 10}`, 'concurrency: 20\nshutdown: {grace_period_ms: 10000}'),
    );
    await redis.client.lpush(`q:${name}`, ...Array.from({ length: 200 }, (_, i) => JSON.stringify({ id: i + 1, sleep: 400 })));
    // In flight = the handler runs (a fetch whose reply comes after SIGTERM is handed back unstarted).
    const startedFile = path.join(redis.dir.dir, `${name}.started`);
    const started = (): number => startedCalls(startedFile);
    const worker = spawnWorker([file], { REDIS_URL: redis.server.url, RECORD_STARTED_FILE: startedFile });
    // One consumer's processing hash, holding as many messages as the concurrency allows, all started.
    await waitFor(
      'one processing hash with twenty in flight, twenty handler calls started',
      async () => ({
        calls: started(),
        lengths: await Promise.all((await redis.client.keys(`{q:${name}}:processing:*`)).map((key) => redis.client.hlen(key))),
      }),
      { until: ({ calls, lengths }) => calls === 20 && lengths.length === 1 && lengths[0] === 20 },
    );
    worker.kill('SIGTERM');
    assert.equal(await exited(worker), 0, worker.output());
    const done = await ids(redis.client, `${name}:out`);
    const queued = await redis.client.llen(`q:${name}`);
    assert.ok(done.length >= 20, `the in-flight ones finished (${done.length})`);
    assert.equal(done.length + queued, 200, 'every message is either done or still queued');
    assert.deepEqual(await redis.client.keys(`{q:${name}}:processing:*`), []);
  });

  it('a too-short grace period leaves unfinished messages in the queue for the next worker', async () => {
    const name = 'short-grace';
    const file = redis.dir.write(
      name,
      recordPipeline(name, `  list: {key: "q:${name}", batch_size: 10}`, 'concurrency: 10\nshutdown: {grace_period_ms: 100}'),
    );
    await redis.client.lpush(`q:${name}`, ...Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: i + 1, sleep: 3000 })));
    const worker = spawnWorker([file], { REDIS_URL: redis.server.url });
    await waitFor(`LLEN q:${name} === 0`, () => redis.client.llen(`q:${name}`), { until: (n) => n === 0 });
    worker.kill('SIGTERM');
    assert.equal(await exited(worker), 0);
    assert.equal(await redis.client.llen(`q:${name}`), 10, 'unfinished messages went back to the queue');
  });

  it('the concurrency cap holds: never more than N handlers at once', async () => {
    const name = 'cap';
    const loaded = await redis.dir.load(name, recordPipeline(name, `  list: {key: "q:${name}", batch_size: 100}`, 'concurrency: 7'));
    await redis.client.lpush(`q:${name}`, ...Array.from({ length: 300 }, (_, i) => JSON.stringify({ id: i + 1, sleep: 5 })));
    const worker = await Worker.start([loaded], { logger: quiet });
    await waitFor(`LLEN ${name}:out >= 300`, () => redis.client.llen(`${name}:out`), { until: (n) => n >= 300 });
    await worker.stop();
    const max = Math.max(...(await ids(redis.client, `${name}:out`)).map((r) => r.max));
    assert.equal(max, 7);
  });

  it('backpressure: a slow handler does not make the worker take more than it can run', async () => {
    const name = 'backpressure';
    const loaded = await redis.dir.load(name, recordPipeline(name, `  list: {key: "q:${name}", batch_size: 100}`, 'concurrency: 5'));
    await redis.client.lpush(`q:${name}`, ...Array.from({ length: 500 }, (_, i) => JSON.stringify({ id: i + 1, sleep: 200 })));
    const worker = await Worker.start([loaded], { logger: quiet });
    // Two rounds of five finished: a worker that ignored the cap would have taken its whole batch of 100 by now.
    await waitFor(`LLEN ${name}:out >= 10`, () => redis.client.llen(`${name}:out`), { until: (n) => n >= 10 });
    const taken = (queued: number) => 500 - queued;
    const [processing] = await redis.client.keys(`{q:${name}}:processing:*`);
    assert.ok(processing);
    const [inFlight, queued, done] = ((await redis.client.multi().hlen(processing).llen(`q:${name}`).llen(`${name}:out`).exec()) ?? []).map(
      ([, n]) => n as number,
    );
    // The processing list also holds finished messages whose batched ack is still on its way, so its
    // length may pass the cap; what may not is taken-but-not-done: a result is written before the ack.
    assert.ok((inFlight as number) >= taken(queued as number) - (done as number), `processing list ${inFlight}`);
    assert.ok(taken(queued as number) - (done as number) <= 5, `taken ${taken(queued as number)}, done ${done}`);
    await worker.stop(100);
  });

  it('Redis killed and restarted (appendonly) under load: nothing lost', async () => {
    const name = 'redis-restart';
    const N = 4000;
    const loaded = await redis.dir.load(name, recordPipeline(name, `  list: {key: "q:${name}", batch_size: 50}`, 'concurrency: 16'));
    for (let i = 0; i < N; i += 1000)
      await redis.client.lpush(`q:${name}`, ...Array.from({ length: 1000 }, (_, j) => JSON.stringify({ id: i + j + 1, sleep: 1 })));
    const worker = await Worker.start([loaded], { logger: quiet });
    await waitFor(`LLEN ${name}:out >= 1000`, () => redis.client.llen(`${name}:out`), { until: (n) => n >= 1000 });
    await redis.server.restart();
    const after = redis.server.client();
    await waitFor(`all ${N} messages in ${name}:out`, async () => new Set((await ids(after, `${name}:out`)).map((r) => r.id)).size, {
      until: (n) => n >= N,
      timeoutMs: 60_000,
    });
    await worker.stop();
    const unique = new Set((await ids(after, `${name}:out`)).map((r) => r.id));
    assert.equal(unique.size, N);
    redis.client = after;
  });

  it('pub/sub overflow is counted, not buffered without bound', async () => {
    const name = 'overflow';
    const loaded = await redis.dir.load(name, recordPipeline(name, `  channel: {channels: ["ch:${name}"], buffer: 50}`, 'concurrency: 1'));
    const worker = await Worker.start([loaded], { logger: quiet });
    const pipe = redis.client.pipeline();
    for (let i = 0; i < 1000; i++) pipe.publish(`ch:${name}`, JSON.stringify({ id: i, sleep: 20 }));
    await pipe.exec();
    const source = worker.pipelines[0]?.source;
    // Messages are still arriving when the first drop is counted: wait for the burst to end.
    // At most the buffer (50) plus the one in the handler and a few being decoded can have been kept.
    const dropped = await waitFor('the burst beyond the buffer to be counted as dropped', () => source?.dropped() ?? 0, {
      until: (n) => n >= 1000 - 50 - 5,
      timeoutMs: 5000,
    });
    await worker.stop(100);
    assert.ok(dropped <= 1000, `dropped ${dropped} of 1000 published`);
  });
});
