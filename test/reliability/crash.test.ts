// Scenario 1: kill -9 the worker three times during a 50k-message run; restart it each time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bodies, reapWorkers, exited, reliablePipeline, produce, report, sampleRss, spawnWorker, tally } from './helpers.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { waitFor } from '../helpers/wait.ts';

const N = 50_000;
const CONCURRENCY = 50;
const BATCH = 100;
const KILLS = 3;

describe('reliability: kill -9 the worker three times during a 50k run', () => {
  const redis = usePrivateRedis({ cleanup: reapWorkers });

  const cases = [
    { kind: 'list' as const, source: (k: string) => `  list: {key: "${k}", batch_size: ${BATCH}, consumer: c1, delivery: at-least-once}` },
    {
      kind: 'stream' as const,
      source: (k: string) => `  stream: {key: "${k}", consumer_group: g, consumer: c1, start_id: "0", batch_size: ${BATCH}}`,
    },
  ];

  for (const c of cases) {
    it(`${c.kind}: nothing lost, duplicates within ${KILLS} × (concurrency + batch_size)`, async () => {
      const name = `crash-${c.kind}`;
      const key = `q:${name}`;
      const out = `${name}:out`;
      const file = redis.dir.write(name, reliablePipeline(name, c.source(key), `concurrency: ${CONCURRENCY}`));
      await produce(redis.client, c.kind, key, bodies(1, N));
      const env = { REDIS_URL: redis.server.url };
      let worker = spawnWorker([file], env);
      const rss = sampleRss(() => worker.pid);
      const recoveries: number[] = [];
      for (let k = 1; k <= KILLS; k++) {
        const target = Math.floor((N * k) / (KILLS + 1));
        await waitFor(
          () => `worker reached ${target}:\n${worker.output()}`,
          async () => (await redis.client.llen(out)) >= target,
          { timeoutMs: 60_000, intervalMs: 20 },
        );
        worker.kill('SIGKILL');
        await exited(worker);
        const inFlight =
          c.kind === 'list' ? await redis.client.hlen(`{${key}}:processing:c1`) : ((await redis.client.xpending(key, 'g')) as [number])[0];
        assert.ok(inFlight > 0, `kill ${k}: messages were in flight`);
        const before = await redis.client.llen(out);
        const restarted = Date.now();
        worker = spawnWorker([file], env);
        await waitFor(
          () => `restart ${k} made progress:\n${worker.output()}`,
          async () => (await redis.client.llen(out)) > before,
          { timeoutMs: 30_000, intervalMs: 20 },
        );
        recoveries.push(Date.now() - restarted);
      }
      // A failed wait is raised only after the report below, so the run still records how much was lost.
      const unfinished = await waitFor(`all ${N} messages in ${out}`, async () => (await tally(redis.client, out)).unique.size, {
        until: (n) => n >= N,
        timeoutMs: 90_000,
        intervalMs: 200,
      }).then(
        () => undefined,
        (error: unknown) => error,
      );
      worker.kill('SIGTERM');
      assert.equal(await exited(worker), 0, worker.output());
      const maxRss = rss.stop();
      const { unique, duplicates } = await tally(redis.client, out);
      const dead = await redis.client.llen(`${key}:dead`);
      const lost = N - unique.size;
      report({
        scenario: `1. kill -9 ×${KILLS}, ${c.kind}`,
        messages: N,
        lost,
        duplicates,
        recovery: `${Math.max(...recoveries)} ms (restart → first output, max of ${KILLS})`,
        maxRss,
      });
      assert.ifError(unfinished);
      assert.equal(dead, 0, 'no dead letters');
      assert.equal(lost, 0, 'nothing lost');
      assert.ok(duplicates <= KILLS * (CONCURRENCY + BATCH), `duplicates (${duplicates}) within the in-flight bound`);
    });
  }
});
