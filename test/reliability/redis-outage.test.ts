// Scenario 2: Redis frozen (SIGSTOP 5 s, SIGCONT), and Redis kill -9 + restart with appendonly, under load.
// The worker (a real `pythia run` child) must recover on its own; nothing Redis kept may be lost.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { PipelineDir, bodies, reapWorkers, exited, pipelineYaml, produce, report, sampleRss, sleep, spawnWorker, startRedis, tally, waitFor, type RedisServer } from './helpers.ts';

const N = 10_000;
const CONCURRENCY = 50;
const BATCH = 100;

describe('reliability: Redis outages under load', () => {
  let server: RedisServer;
  let client: Redis;
  const dir = new PipelineDir();
  before(async () => {
    server = await startRedis({ appendonly: true });
    client = server.client();
  });
  after(async () => {
    reapWorkers();
    await server.stop();
    dir.remove();
  });

  const sources = {
    list: (k: string) => `  list: {key: "${k}", batch_size: ${BATCH}, consumer: c1}`,
    stream: (k: string) => `  stream: {key: "${k}", consumer_group: g, consumer: c1, start_id: "0", batch_size: ${BATCH}, claim_idle_ms: 2000, claim_interval_ms: 500}`,
  };
  const outages = {
    'SIGSTOP 5 s then SIGCONT': async () => {
      server.signal('SIGSTOP');
      await sleep(5000);
      server.signal('SIGCONT');
    },
    'kill -9 and restart (appendonly)': async () => {
      await server.restart();
      client = server.client();
    },
  };

  for (const [outage, act] of Object.entries(outages)) {
    for (const kind of ['list', 'stream'] as const) {
      it(`${kind}, ${outage}: the worker recovers by itself, nothing lost`, async () => {
        const name = `outage-${kind}-${outage.startsWith('SIGSTOP') ? 'stop' : 'restart'}`;
        const key = `q:${name}`;
        const out = `${name}:out`;
        const file = dir.write(name, pipelineYaml(name, sources[kind](key), `concurrency: ${CONCURRENCY}`));
        await produce(client, kind, key, bodies(1, N, { sleep: 1 }));
        const worker = spawnWorker([file], { REDIS_URL: server.url });
        const rss = sampleRss(() => worker.pid);
        assert.ok(await waitFor(async () => (await client.llen(out)) >= N / 4, 60_000, 20), worker.output());
        await act();
        const resumed = Date.now();
        const base = await client.llen(out);
        // Resumed: 100 more results, or all of them (a fast worker can finish the rest before `base` is read).
        const resumedNow = async () => {
          const length = await client.llen(out);
          return length > base + 100 || length >= N;
        };
        assert.ok(await waitFor(resumedNow, 30_000, 20), `worker resumed:\n${worker.output()}`);
        const recovery = Date.now() - resumed;
        const done = await waitFor(async () => (await tally(client, out)).unique.size >= N, 60_000, 200);
        worker.kill('SIGTERM');
        const code = await exited(worker);
        const maxRss = rss.stop();
        const { unique, duplicates } = await tally(client, out);
        const dead = await client.llen(`${key}:dead`);
        report({ scenario: `2. Redis ${outage}, ${kind}`, messages: N, lost: N - unique.size, duplicates, recovery: `${recovery} ms (after SIGCONT / restart)`, maxRss });
        assert.ok(done, `processed ${unique.size} of ${N}:\n${worker.output().slice(-3000)}`);
        assert.equal(dead, 0);
        assert.equal(code, 0, worker.output().slice(-3000));
        assert.ok(duplicates <= CONCURRENCY + BATCH, `duplicates (${duplicates}) within the in-flight bound`);
      });
    }
  }
});
