// Scenario 1: kill -9 the worker three times during a 50k-message run; restart it each time.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { PipelineDir, bodies, reapWorkers, exited, pipelineYaml, produce, report, sampleRss, spawnWorker, startRedis, tally, waitFor, type RedisServer } from './helpers.ts';

const N = 50_000;
const CONCURRENCY = 50;
const BATCH = 100;
const KILLS = 3;

describe('reliability: kill -9 the worker three times during a 50k run', () => {
  let server: RedisServer;
  let client: Redis;
  const dir = new PipelineDir();
  before(async () => {
    server = await startRedis();
    client = server.client();
  });
  after(async () => {
    reapWorkers();
    await server.stop();
    dir.remove();
  });

  const cases = [
    { kind: 'list' as const, source: (k: string) => `  list: {key: "${k}", batch_size: ${BATCH}, consumer: c1, delivery: at-least-once}` },
    { kind: 'stream' as const, source: (k: string) => `  stream: {key: "${k}", consumer_group: g, consumer: c1, start_id: "0", batch_size: ${BATCH}}` },
  ];

  for (const c of cases) {
    it(`${c.kind}: nothing lost, duplicates within ${KILLS} × (concurrency + batch_size)`, async () => {
      const name = `crash-${c.kind}`;
      const key = `q:${name}`;
      const out = `${name}:out`;
      const file = dir.write(name, pipelineYaml(name, c.source(key), `concurrency: ${CONCURRENCY}`));
      await produce(client, c.kind, key, bodies(1, N));
      const env = { REDIS_URL: server.url };
      let worker = spawnWorker([file], env);
      const rss = sampleRss(() => worker.pid);
      const recoveries: number[] = [];
      for (let k = 1; k <= KILLS; k++) {
        const target = Math.floor((N * k) / (KILLS + 1));
        assert.ok(await waitFor(async () => (await client.llen(out)) >= target, 60_000, 20), `worker reached ${target}:\n${worker.output()}`);
        worker.kill('SIGKILL');
        await exited(worker);
        const inFlight = c.kind === 'list' ? await client.llen(`{${key}}:processing:c1`) : ((await client.xpending(key, 'g')) as [number])[0];
        assert.ok(inFlight > 0, `kill ${k}: messages were in flight`);
        const before = await client.llen(out);
        const restarted = Date.now();
        worker = spawnWorker([file], env);
        assert.ok(await waitFor(async () => (await client.llen(out)) > before, 30_000, 20), `restart ${k} made progress:\n${worker.output()}`);
        recoveries.push(Date.now() - restarted);
      }
      const done = await waitFor(async () => (await tally(client, out)).unique.size >= N, 90_000, 200);
      worker.kill('SIGTERM');
      assert.equal(await exited(worker), 0, worker.output());
      const maxRss = rss.stop();
      const { unique, duplicates } = await tally(client, out);
      const dead = await client.llen(`${key}:dead`);
      const lost = N - unique.size;
      report({ scenario: `1. kill -9 ×${KILLS}, ${c.kind}`, messages: N, lost, duplicates, recovery: `${Math.max(...recoveries)} ms (restart → first output, max of ${KILLS})`, maxRss });
      assert.ok(done, `processed ${unique.size} of ${N}`);
      assert.equal(dead, 0, 'no dead letters');
      assert.equal(lost, 0, 'nothing lost');
      assert.ok(duplicates <= KILLS * (CONCURRENCY + BATCH), `duplicates (${duplicates}) within the in-flight bound`);
    });
  }
});
