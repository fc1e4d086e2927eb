// Scenario 3: SIGTERM with 200 slow messages in flight (concurrency 200). With enough grace all finish and
// the worker exits 0; with too short a grace the unfinished ones are redelivered to the next worker.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { bodies, reapWorkers, exited, reliablePipeline, produce, report, sampleRss, spawnWorker, tally } from './helpers.ts';
import { startedCalls } from '../helpers/pipelines.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { waitFor } from '../helpers/wait.ts';

const N = 200;

describe('reliability: graceful drain with 200 slow messages in flight', () => {
  const redis = usePrivateRedis({ cleanup: reapWorkers });

  const sources = {
    list: (k: string) => `  list: {key: "${k}", batch_size: 100, consumer: c1}`,
    stream: (k: string) => `  stream: {key: "${k}", consumer_group: g, consumer: c1, start_id: "0", batch_size: 100}`,
  };
  const inFlight = async (kind: 'list' | 'stream', key: string) =>
    kind === 'list'
      ? redis.client.hlen(`{${key}}:processing:c1`)
      : ((await redis.client.xpending(key, 'g').catch(() => [0])) as [number])[0];

  for (const kind of ['list', 'stream'] as const) {
    it(`${kind}: SIGTERM, every in-flight message finishes within the grace period, exit 0`, async () => {
      const name = `drain-${kind}`;
      const key = `q:${name}`;
      const grace = 10_000;
      const file = redis.dir.write(
        name,
        reliablePipeline(name, sources[kind](key), `concurrency: ${N}\nshutdown: {grace_period_ms: ${grace}}`),
      );
      await produce(redis.client, kind, key, bodies(1, N, { sleep: 3000 }));
      // In flight = the handler is running. The processing hash / PEL fills before the worker has the fetch's
      // reply, and a SIGTERM in between rightly hands those messages back unstarted, so wait for the handlers.
      const startedFile = join(redis.dir.dir, `${name}.started`);
      const started = (): number => startedCalls(startedFile);
      const worker = spawnWorker([file], { REDIS_URL: redis.server.url, RELIABLE_STARTED_FILE: startedFile });
      const rss = sampleRss(() => worker.pid);
      await waitFor(
        () => `all ${N} handlers started (${started()} so far):\n${worker.output()}`,
        async () => started() === N && (await inFlight(kind, key)) === N,
        { timeoutMs: 20_000, intervalMs: 20 },
      );
      const sent = Date.now();
      worker.kill('SIGTERM');
      const code = await exited(worker);
      const took = Date.now() - sent;
      const maxRss = rss.stop();
      const { unique, duplicates } = await tally(redis.client, `${name}:out`);
      report({
        scenario: `3. SIGTERM, 200 in flight, grace ${grace} ms, ${kind}`,
        messages: N,
        lost: N - unique.size,
        duplicates,
        recovery: `exit ${code ?? worker.signalCode} after ${took} ms`,
        maxRss,
      });
      assert.equal(code, 0, `exit ${code ?? worker.signalCode}: ${worker.output()}`);
      assert.ok(took < grace, `drained in ${took} ms, within the grace period`);
      assert.equal(unique.size, N, 'every in-flight message finished');
      assert.equal(duplicates, 0);
      assert.equal(await inFlight(kind, key), 0, 'nothing left unacknowledged');
    });

    it(`${kind}: grace too short, the unfinished messages go to the next worker`, async () => {
      const name = `short-${kind}`;
      const key = `q:${name}`;
      const yaml = (grace: number) =>
        reliablePipeline(name, sources[kind](key), `concurrency: ${N}\nshutdown: {grace_period_ms: ${grace}}`);
      const file = redis.dir.write(name, yaml(300));
      await produce(redis.client, kind, key, bodies(1, N, { sleep: 5000 }));
      const first = spawnWorker([file], { REDIS_URL: redis.server.url });
      await waitFor(
        () => `all ${N} in flight:\n${first.output()}`,
        async () => (await inFlight(kind, key)) === N,
        { timeoutMs: 20_000, intervalMs: 20 },
      );
      first.kill('SIGTERM');
      assert.equal(await exited(first), 0, first.output());
      assert.equal(await redis.client.llen(`${name}:out`), 0, 'none finished within 300 ms');
      const left = kind === 'list' ? await redis.client.llen(key) : await inFlight(kind, key);
      assert.equal(left, N, 'every unfinished message is back in the queue / still pending');
      // The next worker (sleeps skipped, so it is quick) gets every one of them.
      const started = Date.now();
      const second = spawnWorker([redis.dir.write(name, yaml(10_000))], { REDIS_URL: redis.server.url, RELIABLE_IGNORE_SLEEP: '1' });
      // A failed wait is raised only after the report below, so the run still records how much was lost.
      const unfinished = await waitFor(`LLEN ${name}:out >= ${N}`, () => redis.client.llen(`${name}:out`), {
        until: (n) => n >= N,
        timeoutMs: 20_000,
        intervalMs: 20,
      }).then(
        () => undefined,
        (error: unknown) => error,
      );
      const recovery = Date.now() - started;
      second.kill('SIGTERM');
      assert.equal(await exited(second), 0, second.output());
      const { unique, duplicates } = await tally(redis.client, `${name}:out`);
      report({
        scenario: `3. SIGTERM, grace 300 ms (too short), ${kind}`,
        messages: N,
        lost: N - unique.size,
        duplicates,
        recovery: `next worker done ${recovery} ms after start`,
      });
      assert.ifError(unfinished);
      assert.equal(unique.size, N);
      assert.equal(duplicates, 0);
    });
  }
});
