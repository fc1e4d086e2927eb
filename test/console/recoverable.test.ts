import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exited, spawnWorker } from '../helpers/pipelines.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { waitFor } from '../helpers/wait.ts';
import { startConsole } from './support.ts';

interface Overview {
  name: string;
  workers: unknown[];
  recoverable: { consumer: string; count: number; idle_ms?: number; recovery: string }[];
  stuck: string[];
}

describe("console: stuck work (a killed worker's leftovers, an open breaker)", () => {
  const children: ReturnType<typeof spawnWorker>[] = [];
  const redis = usePrivateRedis({ exportUrl: true, cleanup: () => children.forEach((c) => c.kill('SIGKILL')) });

  it("shows a dead list consumer's processing list and a dead stream consumer's pending entries, and the pipelines as stuck", async () => {
    const common = `redis: {url: "\${REDIS_URL}"}
handler: {module: "{{support}}/handlers/record.mjs"}
concurrency: 4
metrics: {enabled: false}`;
    const listPipeline = await redis.dir.load(
      'slow-list',
      `name: slow-list\n${common}\nsource: {list: {key: "q:slow", consumer: doomed, block_timeout_ms: 200}}`,
    );
    const streamPipeline = await redis.dir.load(
      'slow-stream',
      `name: slow-stream\n${common}\nsource: {stream: {key: "s:slow", consumer_group: g, consumer: doomed, start_id: "0", block_timeout_ms: 200, claim_idle_ms: 60000}}`,
    );
    const body = (id: number) => JSON.stringify({ id, sleep: 60_000 });
    await redis.client.lpush('q:slow', ...[1, 2, 3, 4, 5, 6].map(body));
    for (const id of [1, 2, 3, 4, 5, 6]) await redis.client.xadd('s:slow', '*', 'body', body(id));
    const worker = spawnWorker([listPipeline.file, streamPipeline.file], {
      REDIS_URL: redis.server.url,
      PYTHIA_WORKER_REPORT_INTERVAL_MS: '300',
    });
    children.push(worker);
    const c = await startConsole([listPipeline, streamPipeline]);
    try {
      const read = async () => ((await (await fetch(`${c.server.url}/api/pipelines`)).json()) as { pipelines: Overview[] }).pipelines;
      await waitFor(() => `the worker to hold messages and report itself:\n${worker.output()}`, read, {
        until: (ps) => ps.every((p) => p.workers.length === 1),
      });
      await waitFor(
        '4 messages in flight on each source',
        async () => [await redis.client.hlen('{q:slow}:processing:doomed'), ((await redis.client.xpending('s:slow', 'g')) as [number])[0]],
        { until: ([list, stream]) => list === 4 && stream === 4 },
      );
      worker.kill('SIGKILL');
      await exited(worker);
      const [list, stream] = await waitFor('the killed worker to disappear', read, {
        until: (ps) => ps.every((p) => p.workers.length === 0),
      });
      assert.deepEqual(
        list?.recoverable.map((r) => [r.consumer, r.count]),
        [['doomed', 4]],
      );
      assert.match(list?.recoverable[0]?.recovery ?? '', /when a worker starts/);
      assert.deepEqual(list?.stuck, ['6 messages waiting and no live worker']);
      assert.deepEqual(
        stream?.recoverable.map((r) => [r.consumer, r.count]),
        [['doomed', 4]],
      );
      assert.ok((stream?.recoverable[0]?.idle_ms ?? -1) >= 0);
      assert.match(stream?.stuck.join() ?? '', /waiting and no live worker/);
    } finally {
      await c.close();
    }
  });

  it('a worker whose circuit breaker opened reports it, and the pipeline turns red', async () => {
    const pipeline = await redis.dir.load(
      'flaky',
      `name: flaky
redis: {url: "\${REDIS_URL}"}
handler: {module: "{{support}}/handlers/record.mjs"}
source: {list: {key: "q:flaky", block_timeout_ms: 200}}
resilience: {max_retries: 100, retry_delay_ms: 10, circuit_breaker: {enabled: true, failure_threshold: 3, reset_timeout_ms: 60000}}
metrics: {enabled: false}`,
    );
    await redis.client.lpush('q:flaky', ...[1, 2, 3, 4, 5].map((id) => JSON.stringify({ id, fail: 'always' })));
    const worker = spawnWorker([pipeline.file], { REDIS_URL: redis.server.url, PYTHIA_WORKER_REPORT_INTERVAL_MS: '300' });
    children.push(worker);
    const c = await startConsole([pipeline]);
    try {
      const read = async () =>
        ((await (await fetch(`${c.server.url}/api/pipelines`)).json()) as { pipelines: (Overview & { breaker: string })[] }).pipelines[0];
      const flaky = await waitFor(() => `the breaker to open:\n${worker.output()}`, read, { until: (p) => p?.breaker === 'open' });
      assert.ok(flaky?.stuck.includes('circuit breaker open'), JSON.stringify(flaky?.stuck));
    } finally {
      await c.close();
      worker.kill('SIGKILL');
      await exited(worker);
    }
  });
});
