// Scenario 6: two workers (consumers a and b) on the same list / stream; kill -9 a. b must take over a's
// in-flight messages within the heartbeat TTL (list) or claim_idle_ms (stream); the recovery time is measured.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bodies, exited, reliablePipeline, produce, reapWorkers, report, sampleRss, spawnWorker, tally } from './helpers.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { waitFor } from '../helpers/wait.ts';

const N = 10_000;
const CONCURRENCY = 20;
const BATCH = 20;
const HEARTBEAT_TTL_MS = 1000;
const CLAIM_IDLE_MS = 1000;
const INTERVAL_MS = 200;

describe("reliability: takeover of a killed worker's in-flight messages", () => {
  const redis = usePrivateRedis({ cleanup: reapWorkers });

  const cases = {
    list: {
      source: (k: string) =>
        `  list: {key: "${k}", batch_size: ${BATCH}, consumer: "\${CONSUMER}", heartbeat_ttl_ms: ${HEARTBEAT_TTL_MS}, recovery_interval_ms: ${INTERVAL_MS}}`,
      inFlightOf: async (key: string, consumer: string) =>
        (await redis.client.hvals(`{${key}}:processing:${consumer}`)).map((p) => (JSON.parse(p) as { id: number }).id),
      bound: HEARTBEAT_TTL_MS + INTERVAL_MS,
    },
    stream: {
      source: (k: string) =>
        `  stream: {key: "${k}", consumer_group: g, consumer: "\${CONSUMER}", start_id: "0", batch_size: ${BATCH}, claim_idle_ms: ${CLAIM_IDLE_MS}, claim_interval_ms: ${INTERVAL_MS}}`,
      inFlightOf: async (key: string, consumer: string) => {
        const pending = (await redis.client.xpending(key, 'g', '-', '+', 100_000, consumer).catch(() => [])) as [string][];
        if (pending.length === 0) return [];
        const entries = await redis.client.xrange(key, pending[0]?.[0] as string, pending[pending.length - 1]?.[0] as string);
        const ids = new Set(pending.map((p) => p[0]));
        return entries.filter(([id]) => ids.has(id)).map(([, fields]) => (JSON.parse(fields[1] as string) as { id: number }).id);
      },
      bound: CLAIM_IDLE_MS + INTERVAL_MS,
    },
  };

  for (const [kind, c] of Object.entries(cases) as [keyof typeof cases, (typeof cases)[keyof typeof cases]][]) {
    it(`${kind}: the survivor takes over within ${c.bound} ms (+ slack)`, async () => {
      const name = `takeover-${kind}`;
      const key = `q:${name}`;
      const out = `${name}:out`;
      const file = redis.dir.write(name, reliablePipeline(name, c.source(key), `concurrency: ${CONCURRENCY}`));
      await produce(redis.client, kind, key, bodies(1, N, { sleep: 5 }));
      const a = spawnWorker([file], { REDIS_URL: redis.server.url, CONSUMER: 'a' });
      const b = spawnWorker([file], { REDIS_URL: redis.server.url, CONSUMER: 'b' });
      const rss = sampleRss(() => b.pid);
      await waitFor(
        () => `both consuming:\n${a.output()}\n${b.output()}`,
        async () =>
          (await redis.client.llen(out)) >= N / 4 && (await c.inFlightOf(key, 'a')).length > 0 && (await c.inFlightOf(key, 'b')).length > 0,
        { timeoutMs: 60_000, intervalMs: 20 },
      );
      a.kill('SIGKILL');
      await exited(a);
      const killed = Date.now();
      const orphans = await c.inFlightOf(key, 'a');
      assert.ok(orphans.length > 0, 'a had messages in flight');
      // Taken over: nothing left in a's processing list / pending entries.
      await waitFor(
        () => `b took over a's messages:\n${b.output()}`,
        async () => (await c.inFlightOf(key, 'a')).length === 0,
        { timeoutMs: 15_000, intervalMs: 10 },
      );
      const takeover = Date.now() - killed;
      // And processed: every orphan is in the output.
      await waitFor(
        () => `every orphan of a processed by b:\n${b.output()}`,
        async () => {
          const { unique } = await tally(redis.client, out);
          return orphans.every((id) => unique.has(id));
        },
        { timeoutMs: 15_000, intervalMs: 20 },
      );
      const orphansDone = Date.now() - killed;
      // A failed wait is raised only after the report below, so the run still records how much was lost.
      const unfinished = await waitFor(`all ${N} messages in ${out}`, async () => (await tally(redis.client, out)).unique.size, {
        until: (n) => n >= N,
        timeoutMs: 60_000,
        intervalMs: 100,
      }).then(
        () => undefined,
        (error: unknown) => error,
      );
      b.kill('SIGTERM');
      assert.equal(await exited(b), 0, b.output().slice(-2000));
      const maxRss = rss.stop();
      const { unique, duplicates } = await tally(redis.client, out);
      report({
        scenario: `6. takeover, ${kind} (${orphans.length} in flight on the killed worker)`,
        messages: N,
        lost: N - unique.size,
        duplicates,
        recovery: `taken over ${takeover} ms, processed ${orphansDone} ms after the kill (bound ${c.bound} ms)`,
        maxRss,
      });
      assert.ifError(unfinished);
      assert.equal(unique.size, N, 'nothing lost');
      assert.ok(duplicates <= CONCURRENCY + BATCH, `duplicates (${duplicates}) within the in-flight bound`);
      assert.ok(takeover <= c.bound + 1500, `taken over in ${takeover} ms, within ${c.bound} ms plus 1.5 s of scheduling slack`);
    });
  }
});
