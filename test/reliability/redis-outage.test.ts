// Scenario 2: Redis frozen (SIGSTOP 5 s, SIGCONT), and Redis kill -9 + restart with appendonly, under load.
// The worker (a real `pythia run` child) must recover on its own; nothing Redis kept may be lost.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bodies, reapWorkers, exited, reliablePipeline, produce, report, sampleRss, spawnWorker, tally } from './helpers.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

const N = 10_000;
const CONCURRENCY = 50;
const BATCH = 100;

describe('reliability: Redis outages under load', () => {
  const redis = usePrivateRedis({ appendonly: true, cleanup: reapWorkers });

  const sources = {
    list: (k: string) => `  list: {key: "${k}", batch_size: ${BATCH}, consumer: c1}`,
    stream: (k: string) =>
      `  stream: {key: "${k}", consumer_group: g, consumer: c1, start_id: "0", batch_size: ${BATCH}, claim_idle_ms: 2000, claim_interval_ms: 500}`,
  };
  const outages = {
    'SIGSTOP 5 s then SIGCONT': async () => {
      redis.server.signal('SIGSTOP');
      await sleep(5000);
      redis.server.signal('SIGCONT');
    },
    'kill -9 and restart (appendonly)': async () => {
      await redis.server.restart();
      redis.client = redis.server.client();
    },
  };

  for (const [outage, act] of Object.entries(outages)) {
    for (const kind of ['list', 'stream'] as const) {
      it(`${kind}, ${outage}: the worker recovers by itself, nothing lost`, async () => {
        const name = `outage-${kind}-${outage.startsWith('SIGSTOP') ? 'stop' : 'restart'}`;
        const key = `q:${name}`;
        const out = `${name}:out`;
        const file = redis.dir.write(name, reliablePipeline(name, sources[kind](key), `concurrency: ${CONCURRENCY}`));
        await produce(redis.client, kind, key, bodies(1, N, { sleep: 1 }));
        const worker = spawnWorker([file], { REDIS_URL: redis.server.url });
        const rss = sampleRss(() => worker.pid);
        await waitFor(
          () => `a quarter of the messages in ${out} before the outage:\n${worker.output()}`,
          async () => (await redis.client.llen(out)) >= N / 4,
          { timeoutMs: 60_000, intervalMs: 20 },
        );
        await act();
        const resumed = Date.now();
        const base = await redis.client.llen(out);
        // Resumed: 100 more results, or all of them (a fast worker can finish the rest before `base` is read).
        const resumedNow = async () => {
          const length = await redis.client.llen(out);
          return length > base + 100 || length >= N;
        };
        await waitFor(() => `worker resumed:\n${worker.output()}`, resumedNow, { timeoutMs: 30_000, intervalMs: 20 });
        const recovery = Date.now() - resumed;
        // A failed wait is raised only after the report below, so the run still records how much was lost.
        const unfinished = await waitFor(
          () => `all ${N} messages in ${out}:\n${worker.output().slice(-3000)}`,
          async () => (await tally(redis.client, out)).unique.size,
          { until: (n) => n >= N, timeoutMs: 60_000, intervalMs: 200 },
        ).then(
          () => undefined,
          (error: unknown) => error,
        );
        worker.kill('SIGTERM');
        const code = await exited(worker);
        const maxRss = rss.stop();
        const { unique, duplicates } = await tally(redis.client, out);
        const dead = await redis.client.llen(`${key}:dead`);
        report({
          scenario: `2. Redis ${outage}, ${kind}`,
          messages: N,
          lost: N - unique.size,
          duplicates,
          recovery: `${recovery} ms (after SIGCONT / restart)`,
          maxRss,
        });
        assert.ifError(unfinished);
        assert.equal(dead, 0);
        assert.equal(code, 0, worker.output().slice(-3000));
        assert.ok(duplicates <= CONCURRENCY + BATCH, `duplicates (${duplicates}) within the in-flight bound`);
      });
    }
  }
});
