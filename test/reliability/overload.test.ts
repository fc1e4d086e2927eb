// Scenario 5: a producer ~10x faster than the handlers for 20 s. The worker's RSS (VmRSS of the child) must
// stay bounded — it takes only what it can run — and, after a drain, nothing is lost.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bodies, exited, reliablePipeline, produce, reapWorkers, report, sampleRss, spawnWorker, tally } from './helpers.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

const SECONDS = 20;
const CONCURRENCY = 2;
const SLEEP_MS = 20; // handler capacity ≈ CONCURRENCY * 1000 / SLEEP_MS = 100 msg/s
const RATE = 1000; // produced per second: 10x the handlers
const RSS_LIMIT_MIB = 400;

describe('reliability: overload, a producer 10x faster than the handlers', () => {
  const redis = usePrivateRedis({ cleanup: reapWorkers });

  const sources = {
    list: (k: string, c: string) => `  list: {key: "${k}", batch_size: 100, consumer: ${c}}`,
    stream: (k: string, c: string) => `  stream: {key: "${k}", consumer_group: g, consumer: ${c}, start_id: "0", batch_size: 100}`,
  };

  for (const kind of ['list', 'stream'] as const) {
    it(`${kind}: ${SECONDS} s at ${RATE}/s against ~${(CONCURRENCY * 1000) / SLEEP_MS}/s of handlers`, async () => {
      const name = `overload-${kind}`;
      const key = `q:${name}`;
      const out = `${name}:out`;
      const worker = spawnWorker([redis.dir.write(name, reliablePipeline(name, sources[kind](key, 'c1'), `concurrency: ${CONCURRENCY}`))], {
        REDIS_URL: redis.server.url,
      });
      const rss = sampleRss(() => worker.pid, 100);
      // Bounded producer: RATE/10 messages every 100 ms for SECONDS.
      let produced = 0;
      const start = Date.now();
      for (let tick = 1; tick <= SECONDS * 10; tick++) {
        await produce(redis.client, kind, key, bodies(produced + 1, RATE / 10, { sleep: SLEEP_MS, pad: 'x'.repeat(200) }));
        produced += RATE / 10;
        const wait = start + tick * 100 - Date.now();
        if (wait > 0) await sleep(wait);
      }
      const elapsed = (Date.now() - start) / 1000;
      const processedDuringLoad = await redis.client.llen(out);
      const maxRss = rss.stop();
      worker.kill('SIGTERM');
      assert.equal(await exited(worker), 0, worker.output().slice(-2000));

      // Drain: a fast worker (sleeps skipped) under the same consumer name takes the backlog (and re-reads any
      // stream entry still pending under that name, e.g. from an XREADGROUP interrupted by the shutdown).
      const drainStart = Date.now();
      const drainer = spawnWorker(
        [redis.dir.write(`${name}-drain`, reliablePipeline(name, sources[kind](key, 'c1'), 'concurrency: 100'))],
        { REDIS_URL: redis.server.url, RELIABLE_IGNORE_SLEEP: '1' },
      );
      // A failed wait is raised only after the report below, so the run still records how much was lost.
      const unfinished = await waitFor(`LLEN ${out} >= ${produced}`, () => redis.client.llen(out), {
        until: (n) => n >= produced,
        timeoutMs: 60_000,
        intervalMs: 100,
      }).then(
        () => undefined,
        (error: unknown) => error,
      );
      const drainMs = Date.now() - drainStart;
      drainer.kill('SIGTERM');
      assert.equal(await exited(drainer), 0, drainer.output().slice(-2000));
      const { unique, duplicates } = await tally(redis.client, out);
      console.log(
        `overload ${kind}: produced ${produced} in ${elapsed.toFixed(1)} s (${(produced / elapsed).toFixed(0)}/s), handled ${processedDuringLoad} meanwhile (${(processedDuringLoad / elapsed).toFixed(0)}/s), max RSS ${maxRss.toFixed(0)} MiB, drained in ${drainMs} ms`,
      );
      report({
        scenario: `5. overload ${SECONDS} s, ${(produced / elapsed).toFixed(0)}/s in vs ${(processedDuringLoad / elapsed).toFixed(0)}/s handled, ${kind}`,
        messages: produced,
        lost: produced - unique.size,
        duplicates,
        recovery: `backlog drained in ${drainMs} ms`,
        maxRss,
      });
      assert.ifError(unfinished);
      assert.equal(unique.size, produced, 'nothing lost');
      assert.equal(duplicates, 0);
      assert.ok(produced / elapsed >= 8 * (processedDuringLoad / elapsed), 'the producer really was ~10x faster');
      assert.ok(maxRss < RSS_LIMIT_MIB, `max RSS ${maxRss.toFixed(0)} MiB stays bounded`);
    });
  }
});
