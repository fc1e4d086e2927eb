import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { startRedis, type RedisServer } from '../../src/testing/redis-server.ts';
import { handled } from './handlers/record.ts';
import { duplicates, PipelineFiles, RECORD_HANDLER, spawnPythia, terminate, type WorkerProcess } from './support.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

const REPLICAS = 3;
const N = 3000;

const yaml = (name: string, source: string) => `
version: 1
name: ${name}
redis: {url: "\${REDIS_URL}"}
source:
${source}
handler: {module: "${RECORD_HANDLER}", export: handle}
concurrency: 8
output: {list: "${name}:done"}
metrics: {enabled: false}
shutdown: {grace_period_ms: 5000}
`;

interface Result {
  id: string;
  pid: number;
}

describe(`replicas: ${REPLICAS} pythia run processes on one list and one stream group`, { timeout: 90_000 }, () => {
  let server: RedisServer;
  const files = new PipelineFiles();
  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    await server?.stop();
    files.remove();
  });

  it('share the work, and no message is processed twice', async (t) => {
    const list = files.write('replica-list', yaml('replica-list', '  list: {key: jobs, batch_size: 10, delivery: at-least-once}'));
    // On one host every replica needs its own stream consumer name (in containers the hostname differs).
    const stream = files.write(
      'replica-stream',
      yaml(
        'replica-stream',
        '  stream: {key: jobs-stream, consumer_group: workers, consumer: "${PYTHIA_CONSUMER}", start_id: "0", batch_size: 10}',
      ),
    );
    const workers: WorkerProcess[] = [];
    for (let i = 0; i < REPLICAS; i++)
      workers.push(spawnPythia([list, stream], { REDIS_URL: server.url, PYTHIA_CONSUMER: `replica-${i + 1}`, PYTHIA_LOG_LEVEL: 'info' }));
    const client = server.client();
    try {
      await waitFor(
        'every replica to consume both pipelines',
        () => workers.every((w) => (w.output().match(/pipeline consuming/g) ?? []).length === 2 || w.exitCode !== null),
        { timeoutMs: 30_000 },
      );
      for (const w of workers) assert.equal(w.exitCode, null, w.output());

      // Messages that take a little time (1 ms), so that every replica gets some while others are busy.
      const bodies = Array.from({ length: N }, (_, i) => JSON.stringify({ id: i + 1, sleep: 1 }));
      const started = Date.now();
      for (let i = 0; i < N; i += 500) {
        await client.lpush('jobs', ...bodies.slice(i, i + 500));
        const pipe = client.pipeline();
        for (const body of bodies.slice(i, i + 500)) pipe.xadd('jobs-stream', '*', 'body', body);
        await pipe.exec();
      }
      await waitFor(
        'every message of both pipelines handled',
        async () => (await client.llen('replica-list:done')) >= N && (await client.llen('replica-stream:done')) >= N,
        { timeoutMs: 40_000 },
      );
      t.diagnostic(`${REPLICAS} replicas handled ${2 * N} messages in ${Date.now() - started} ms`);
      const running = (await client.xinfo('CONSUMERS', 'jobs-stream', 'workers')) as unknown[][];
      assert.equal(running.length, REPLICAS, 'one stream consumer per replica');
    } finally {
      const codes = await Promise.all(workers.map((w) => terminate(w)));
      assert.deepEqual(
        codes,
        workers.map(() => 0),
        workers.map((w) => w.output()).join('\n'),
      );
    }

    for (const name of ['replica-list', 'replica-stream']) {
      const results = (await client.lrange(`${name}:done`, 0, -1)).map((r) => JSON.parse(r) as Result);
      const ids = results.map((r) => r.id);
      assert.equal(ids.length, N, `${name}: one result per message`);
      assert.equal(new Set(ids).size, N, `${name}: no message processed twice`);
      const perProcess = new Map<number, number>();
      for (const r of results) perProcess.set(r.pid, (perProcess.get(r.pid) ?? 0) + 1);
      t.diagnostic(`${name}: per process ${[...perProcess.values()].join(' / ')}`);
      assert.equal(perProcess.size, REPLICAS, `${name}: every replica took a share`);
    }
    assert.equal(await client.llen('jobs'), 0);
    // {jobs}:ids, the processing hashes' id counter, stays: ids must never repeat while any worker holds one.
    assert.deepEqual(
      (await client.keys('{jobs}:*')).filter((key) => key !== '{jobs}:ids'),
      [],
      'no processing hash, heartbeat or consumer left after a clean stop',
    );
    const pending = (await client.xpending('jobs-stream', 'workers')) as [number];
    assert.equal(pending[0], 0);
    const consumers = (await client.xinfo('CONSUMERS', 'jobs-stream', 'workers')) as unknown[][];
    assert.equal(consumers.length, 0, 'a replica that stops cleanly with nothing pending leaves the group');
  });

  it('a stream entry that takes longer than claim_idle_ms is not claimed by another live replica', async () => {
    // claim_idle_ms is about dead consumers: a live one keeps its in-flight entries fresh.
    const yamlFor = (consumer: string) =>
      yaml(
        `slow-${consumer}`,
        `  stream: {key: slow, consumer_group: workers, consumer: ${consumer}, start_id: "0", batch_size: 1, claim_idle_ms: 300, claim_interval_ms: 100}`,
      ).replace(/output: .*\n/, '');
    const env = { REDIS_URL: server.url };
    const quiet = createLogger('silent');
    const workers = [
      await Worker.start([await files.load('slow-a', yamlFor('a'), env)], { logger: quiet }),
      await Worker.start([await files.load('slow-b', yamlFor('b'), env)], { logger: quiet }),
    ];
    const client = server.client();
    try {
      for (let i = 1; i <= 4; i++) await client.xadd('slow', '*', 'body', JSON.stringify({ id: i, sleep: 1200 }));
      await waitFor('the four slow entries to be handled', () => handled('slow').size === 4, { timeoutMs: 15_000 });
      // An idle period on purpose, long enough for a wrong claim (idle 300 ms, checked every 100 ms) to have
      // happened and its second handling (1200 ms) to have finished.
      await sleep(1500);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
    assert.deepEqual(duplicates(handled('slow')), []);
    assert.equal(handled('slow').size, 4);
  });
});
