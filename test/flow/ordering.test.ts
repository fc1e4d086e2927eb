// ordering against a real Redis and real `pythia run` processes (docs/flow-control.md): per-key order
// across replicas, and what a crash does to it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pipelineYaml } from '../helpers/pipelines.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { waitFor } from '../helpers/wait.ts';
import { exited, produce, reapWorkers, spawnWorker } from '../reliability/helpers.ts';
import { nativeEnvelope } from '../../src/redis/envelope.ts';

interface Stamp {
  id: number;
  key: string;
  seq: number;
  at: number;
  pid: number;
  attempt: number;
}

const STAMP = '{module: "{{support}}/handlers/stamp.mjs"}';

/** Messages of `keys` keys in round-robin, each with its sequence number within its key. */
function keyed(count: number, keys: number, extra: Record<string, unknown> = {}): string[] {
  return Array.from({ length: count }, (_, i) => JSON.stringify({ id: i, key: `k${i % keys}`, seq: Math.floor(i / keys), ...extra }));
}

/** Per key, the sequence numbers in the order they were written to the output (LPUSH: oldest last). */
function perKey(stamps: Stamp[]): Map<string, number[]> {
  const byKey = new Map<string, number[]>();
  for (const s of [...stamps].reverse()) {
    const list = byKey.get(s.key) ?? [];
    list.push(s.seq);
    byKey.set(s.key, list);
  }
  return byKey;
}

function outOfOrder(byKey: Map<string, number[]>): string[] {
  const bad: string[] = [];
  for (const [key, seqs] of byKey) {
    for (let i = 1; i < seqs.length; i++)
      if ((seqs[i] as number) <= (seqs[i - 1] as number)) bad.push(`${key}: ${seqs[i - 1]} then ${seqs[i]}`);
  }
  return bad;
}

describe('ordering', () => {
  const redis = usePrivateRedis({ cleanup: reapWorkers });

  async function stamps(key: string): Promise<Stamp[]> {
    return (await redis.client.lrange(key, 0, -1)).map((r) => JSON.parse(r) as Stamp);
  }

  /** Waits until every worker's consumer has its heartbeat (its source started), so all of them take part. */
  async function bothStarted(key: string, workers: ReturnType<typeof spawnWorker>[]): Promise<void> {
    await waitFor(
      () => `workers started:\n${workers.map((w) => w.output()).join('\n')}`,
      async () => (await redis.client.keys(`{${key}}:heartbeat:*`)).length === workers.length,
      { timeoutMs: 60_000, intervalMs: 50 },
    );
  }

  it('2 worker processes, 10,000 messages over 100 keys, concurrency 50: every key in source order', async () => {
    const name = 'order-two';
    const key = `q:${name}`;
    const out = `${name}:out`;
    const file = redis.dir.write(
      name,
      pipelineYaml(name, {
        source: `{list: {key: "${key}", batch_size: 50}}`,
        handler: STAMP,
        concurrency: 50,
        output: `{list: "${out}"}`,
      }) + 'ordering: {key: /key}\n',
    );
    // Random handler times (0-2 ms): without ordering, later messages of a key would overtake earlier ones.
    const started = Date.now();
    const workers = [1, 2].map(() => spawnWorker([file], { REDIS_URL: redis.server.url }));
    await bothStarted(key, workers);
    await produce(redis.client, 'list', key, keyed(10_000, 100, { jitter: 2 }));
    await waitFor(
      () => `10,000 processed:\n${workers.map((w) => w.output()).join('\n')}`,
      async () => (await redis.client.llen(out)) >= 10_000,
      { timeoutMs: 180_000, intervalMs: 200 },
    );
    for (const worker of workers) worker.kill('SIGTERM');
    await Promise.all(workers.map((w) => exited(w)));
    const all = await stamps(out);
    const pids = new Map<number, number>();
    for (const s of all) pids.set(s.pid, (pids.get(s.pid) ?? 0) + 1);
    const times = all.map((s) => s.at).sort((a, b) => a - b);
    console.log(
      `ORDER | 10,000 messages, 100 keys, 2 processes, concurrency 50 | ${(((times.at(-1) as number) - (times[0] as number)) / 1000).toFixed(2)} s from first to last (${((Date.now() - started) / 1000).toFixed(1)} s with start-up) | per process ${[...pids.values()].join(' / ')}`,
    );
    assert.equal(all.length, 10_000);
    assert.equal(new Set(all.map((s) => s.id)).size, 10_000);
    assert.equal(pids.size, 2, 'both processes took part');
    const byKey = perKey(all);
    assert.equal(byKey.size, 100);
    assert.deepEqual(outOfOrder(byKey), []);
    for (const seqs of byKey.values()) assert.equal(seqs.length, 100);
    // Every ticket and mark is gone after a clean stop (a waiter's claim on the next fetch turn lasts 100 ms).
    await waitFor('no ordering key left', async () => (await redis.client.keys(`{${key}}:ordering:*`)).length === 0, {
      timeoutMs: 2000,
      intervalMs: 50,
    });
  });

  it('stream source: 2 worker processes, 3,000 entries over 30 keys, in entry order per key', async () => {
    const name = 'order-stream';
    const key = `s:${name}`;
    const out = `${name}:out`;
    const file = redis.dir.write(
      name,
      pipelineYaml(name, {
        source: `{stream: {key: "${key}", consumer_group: g, start_id: "0", batch_size: 50}}`,
        handler: STAMP,
        concurrency: 20,
        output: `{list: "${out}"}`,
      }) + 'ordering: {key: /key}\n',
    );
    const workers = [1, 2].map(() => spawnWorker([file], { REDIS_URL: redis.server.url }));
    await bothStarted(key, workers);
    await produce(redis.client, 'stream', key, keyed(3000, 30, { jitter: 2 }));
    await waitFor(
      () => `3,000 processed:\n${workers.map((w) => w.output()).join('\n')}`,
      async () => (await redis.client.llen(out)) >= 3000,
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    for (const worker of workers) worker.kill('SIGTERM');
    await Promise.all(workers.map((w) => exited(w)));
    const all = await stamps(out);
    assert.equal(new Set(all.map((s) => s.pid)).size, 2, 'both processes took part');
    assert.deepEqual(outOfOrder(perKey(all)), []);
    assert.equal(new Set(all.map((s) => s.id)).size, 3000);
  });

  it('a retry holds back the later messages of its key, not the other keys', async () => {
    const name = 'order-retry';
    const key = `q:${name}`;
    const out = `${name}:out`;
    const file = redis.dir.write(
      name,
      pipelineYaml(name, {
        source: `{list: {key: "${key}", batch_size: 10}}`,
        handler: STAMP,
        concurrency: 10,
        output: `{list: "${out}"}`,
        resilience: '{retry_delay_ms: 300, retry_jitter: 0, circuit_breaker: {enabled: false}}',
      }) + 'ordering: {key: header:tenant}\n',
    );
    // k0#0 fails twice (two retries of 300 and 600 ms); k0#1..4 must wait for it, k1's go on.
    const payloads = [0, 1, 2, 3, 4].flatMap((seq) =>
      ['k0', 'k1'].map((k) =>
        nativeEnvelope.wrap(
          Buffer.from(JSON.stringify({ id: seq * 2 + (k === 'k0' ? 0 : 1), key: k, seq, fail_until: k === 'k0' && seq === 0 ? 3 : 0 })),
          {
            tenant: k,
          },
        ),
      ),
    );
    await redis.client.lpush(key, ...payloads);
    const worker = spawnWorker([file], { REDIS_URL: redis.server.url });
    await waitFor(
      () => `10 processed:\n${worker.output()}`,
      async () => (await redis.client.llen(out)) >= 10,
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    worker.kill('SIGTERM');
    await exited(worker);
    const all = await stamps(out);
    const byKey = perKey(all);
    assert.deepEqual(byKey.get('k0'), [0, 1, 2, 3, 4]);
    assert.deepEqual(byKey.get('k1'), [0, 1, 2, 3, 4]);
    const first = all.find((s) => s.key === 'k0' && s.seq === 0) as Stamp;
    assert.equal(first.attempt, 3);
    // k1 did not wait for k0's retries: all of k1 was done before k0#0 succeeded.
    assert.ok(all.filter((s) => s.key === 'k1').every((s) => s.at <= first.at));
  });

  /**
   * Worker a takes k0#0 (its handler sleeps in a only); b starts, and then gets k0#1 and k1#0 (a has
   * no free slot): k1#0 runs at once, k0#1 waits behind a's ticket. Then a is stopped by `end`.
   */
  async function handOver(name: string, end: 'SIGKILL' | 'SIGTERM', source: string, lease: number) {
    const key = `q:${name}`;
    const out = `${name}:out`;
    const yaml = pipelineYaml(name, {
      source: `{list: {key: "${key}", batch_size: 1, consumer: "\${CONSUMER}", ${source}}}`,
      handler: STAMP,
      // One at a time: a, busy with k0#0, fetches nothing more, so b gets k0#1.
      concurrency: 1,
      output: `{list: "${out}"}`,
      shutdown: '{grace_period_ms: 100}',
    });
    const file = redis.dir.write(name, `${yaml}ordering: {key: /key, lease_ttl_ms: ${lease}}\n`);
    const a = spawnWorker([file], { REDIS_URL: redis.server.url, CONSUMER: 'a' });
    await redis.client.lpush(key, JSON.stringify({ id: 0, key: 'k0', seq: 0, sleep_on: { consumer: 'a', ms: 60_000 } }));
    await waitFor(
      () => `a took k0#0:\n${a.output()}`,
      async () => (await redis.client.llen(key)) === 0 && (await redis.client.keys(`{${key}}:ordering:q:k0`)).length === 1,
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    const b = spawnWorker([file], { REDIS_URL: redis.server.url, CONSUMER: 'b' });
    await waitFor(
      () => `b started:\n${b.output()}`,
      async () => (await redis.client.keys(`{${key}}:ordering:owner:*`)).length === 2,
      {
        timeoutMs: 30_000,
        intervalMs: 20,
      },
    );
    await redis.client.lpush(key, JSON.stringify({ id: 1, key: 'k0', seq: 1 }), JSON.stringify({ id: 2, key: 'k1', seq: 0 }));
    await waitFor(
      () => `k1 processed:\n${b.output()}`,
      async () => (await redis.client.llen(out)) >= 1,
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(
      (await stamps(out)).map((s) => s.id),
      [2],
      'k0#1 waits while a (alive) holds k0#0',
    );
    a.kill(end);
    await exited(a);
    return { a, b, out, stoppedAt: Date.now() };
  }

  it('a crashed worker: its message, recovered by another, takes its place back and the key stays in order', async () => {
    const { b, out, stoppedAt } = await handOver('order-crash', 'SIGKILL', 'heartbeat_ttl_ms: 6000, recovery_interval_ms: 200', 20_000);
    await waitFor(
      () => `k0 processed:\n${b.output()}`,
      async () => (await redis.client.llen(out)) >= 3,
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    console.log(`ORDER | crash (kill -9): k0 went on ${Date.now() - stoppedAt} ms later, in order (list heartbeat_ttl_ms 6000)`);
    b.kill('SIGTERM');
    await exited(b);
    assert.deepEqual(perKey(await stamps(out)).get('k0'), [0, 1]);
  });

  it('a stopped worker: its unfinished message, requeued, takes its place back', async () => {
    const { b, out } = await handOver('order-stop', 'SIGTERM', 'heartbeat_ttl_ms: 6000, recovery_interval_ms: 200', 20_000);
    await waitFor(
      () => `k0 processed:\n${b.output()}`,
      async () => (await redis.client.llen(out)) >= 3,
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    b.kill('SIGTERM');
    await exited(b);
    assert.deepEqual(perKey(await stamps(out)).get('k0'), [0, 1]);
  });

  it('not guaranteed: a message lost in a crash (at-most-once) holds its key back for 3 s + lease_ttl_ms, then the key moves on', async () => {
    const lease = 2000;
    const { b, out, stoppedAt } = await handOver('order-lost', 'SIGKILL', 'delivery: at-most-once', lease);
    await waitFor(
      () => `k0#1 processed:\n${b.output()}`,
      async () => (await redis.client.llen(out)) >= 2,
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    const freedAfter = Date.now() - stoppedAt;
    console.log(`ORDER | lost message: k0 freed ${freedAfter} ms after kill -9 (lease_ttl_ms ${lease})`);
    b.kill('SIGTERM');
    await exited(b);
    // a's mark lives 2-3 s after the kill, then its ticket waits lease_ttl_ms.
    assert.ok(freedAfter >= lease + 1500, `freed after ${freedAfter} ms`);
    assert.deepEqual(perKey(await stamps(out)).get('k0'), [1]);
  });
});
