import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exited, recordPipeline, spawnWorker } from '../helpers/pipelines.ts';
import type { Redis } from 'ioredis';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { waitFor } from '../helpers/wait.ts';

/** Ids in an output list, and how many of them came more than once. */
async function tally(client: Redis, key: string): Promise<{ unique: Set<number>; duplicates: number }> {
  const ids = (await client.lrange(key, 0, -1)).map((r) => (JSON.parse(r) as { id: number }).id);
  const unique = new Set(ids);
  return { unique, duplicates: ids.length - unique.size };
}

const N = 3000;
const CONCURRENCY = 16;
const BATCH = 50;

describe('kill -9 a worker with messages in flight: a restarted worker processes every one', () => {
  const redis = usePrivateRedis();

  async function produce(key: string, kind: 'list' | 'stream'): Promise<void> {
    const bodies = Array.from({ length: N }, (_, i) => JSON.stringify({ id: i + 1, sleep: 2 }));
    if (kind === 'list') {
      for (let i = 0; i < N; i += 1000) await redis.client.lpush(key, ...bodies.slice(i, i + 1000));
    } else {
      const pipe = redis.client.pipeline();
      for (const body of bodies) pipe.xadd(key, '*', 'body', body);
      await pipe.exec();
    }
  }

  const cases = [
    {
      kind: 'list' as const,
      title: 'list at-least-once, same consumer restarts',
      source: (k: string) => `  list: {key: "${k}", batch_size: ${BATCH}, consumer: c1}`,
      consumers: ['c1', 'c1'],
    },
    {
      kind: 'list' as const,
      title: 'list at-least-once, another consumer recovers after the heartbeat expires',
      source: (k: string) =>
        `  list: {key: "${k}", batch_size: ${BATCH}, consumer: "\${CONSUMER}", heartbeat_ttl_ms: 1000, recovery_interval_ms: 200}`,
      consumers: ['a', 'b'],
    },
    {
      kind: 'stream' as const,
      title: 'stream, same consumer re-reads its pending entries',
      source: (k: string) => `  stream: {key: "${k}", consumer_group: g, consumer: "\${CONSUMER}", start_id: "0", batch_size: ${BATCH}}`,
      consumers: ['c1', 'c1'],
    },
    {
      kind: 'stream' as const,
      title: 'stream, another consumer claims idle entries',
      source: (k: string) =>
        `  stream: {key: "${k}", consumer_group: g, consumer: "\${CONSUMER}", start_id: "0", batch_size: ${BATCH}, claim_idle_ms: 500, claim_interval_ms: 200}`,
      consumers: ['a', 'b'],
    },
  ];

  for (const [index, c] of cases.entries()) {
    it(c.title, async () => {
      const name = `crash${index}`;
      const key = `q:${name}`;
      const file = redis.dir.write(name, recordPipeline(name, c.source(key), `concurrency: ${CONCURRENCY}`));
      await produce(key, c.kind);
      const env = { REDIS_URL: redis.server.url };
      const first = spawnWorker([file], { ...env, CONSUMER: c.consumers[0] as string });
      await waitFor(
        () => `first worker made progress:\n${first.output()}`,
        async () => (await redis.client.llen(`${name}:out`)) >= 500,
        { timeoutMs: 30_000 },
      );
      first.kill('SIGKILL');
      await exited(first);
      const inFlight =
        c.kind === 'list'
          ? await redis.client.hlen(`{${key}}:processing:${c.consumers[0]}`)
          : ((await redis.client.xpending(key, 'g')) as [number])[0];
      assert.ok(inFlight > 0, 'messages were in flight at the kill');

      const second = spawnWorker([file], { ...env, CONSUMER: c.consumers[1] as string });
      await waitFor(`all ${N} messages in ${name}:out`, async () => (await tally(redis.client, `${name}:out`)).unique.size, {
        until: (n) => n >= N,
        timeoutMs: 60_000,
      });
      second.kill('SIGTERM');
      assert.equal(await exited(second), 0, second.output());
      const { unique, duplicates } = await tally(redis.client, `${name}:out`);
      assert.equal(unique.size, N, 'nothing lost');
      assert.ok(duplicates <= CONCURRENCY + BATCH, `duplicates (${duplicates}) within the in-flight bound`);
    });
  }
});
