import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exited, spawnWorker } from '../helpers/pipelines.ts';
import { waitFor } from '../helpers/wait.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import type { WorkerRecord } from '../../src/runtime/worker-record.ts';

describe("workers report themselves: a TTL'd record per worker and pipeline", () => {
  const workers: ReturnType<typeof spawnWorker>[] = [];
  const redis = usePrivateRedis({ cleanup: () => workers.forEach((w) => w.kill('SIGKILL')) });

  async function records(): Promise<WorkerRecord[]> {
    const members = await redis.client.zrange('{q:report}:workers', '0', '-1');
    if (members.length === 0) return [];
    const values = await redis.client.mget(...members.map((m) => `{q:report}:worker:${m}`));
    return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as WorkerRecord);
  }

  it('two workers appear; the one killed with SIGKILL disappears after the TTL, the other stays', async () => {
    const file = redis.dir.write(
      'report',
      `
name: report
redis: {url: "\${REDIS_URL}"}
source: {list: {key: "q:report"}}
handler: {module: "{{support}}/handlers/record.mjs"}
output: {list: "report:out"}
metrics: {enabled: false}
`,
    );
    const env = { REDIS_URL: redis.server.url, PYTHIA_WORKER_REPORT_INTERVAL_MS: '300' };
    workers.push(spawnWorker([file], env), spawnWorker([file], env));
    const [a, b] = workers as [ReturnType<typeof spawnWorker>, ReturnType<typeof spawnWorker>];
    await waitFor(
      () => `two records:\n${a.output()}\n${b.output()}`,
      async () => (await records()).length,
      { until: (n) => n === 2, timeoutMs: 30_000 },
    );
    await redis.client.lpush('q:report', ...Array.from({ length: 20 }, (_, i) => JSON.stringify({ id: i })));
    await waitFor('20 processed in the records', async () => (await records()).reduce((n, r) => n + r.processed, 0), {
      until: (n) => n === 20,
    });

    const listed = await records();
    assert.deepEqual(listed.map((r) => r.pid).sort(), [a.pid, b.pid].sort());
    for (const r of listed) {
      assert.equal(r.pipeline, 'report');
      assert.equal(r.ttl_ms, 900);
      assert.equal(r.breaker, 'closed');
      assert.equal(r.draining, false);
      assert.deepEqual(r.pipelines, ['report']);
      assert.equal(typeof r.consumer, 'string');
      assert.equal(r.history.processed.length, r.history.failed.length);
      const pttl = await redis.client.pttl(`{q:report}:worker:report/${r.id}`);
      assert.ok(pttl > 0 && pttl <= 900, `record has a TTL (${pttl})`);
    }

    a.kill('SIGKILL');
    await exited(a);
    await waitFor("the killed worker's record to expire", async () => (await records()).map((r) => r.pid).join(), {
      until: (pids) => pids === String(b.pid),
      timeoutMs: 5_000,
    });
    // The survivor's next write drops the dead member from the index: it holds only live workers.
    await waitFor('the index to hold only the live worker', () => redis.client.zcard('{q:report}:workers'), {
      until: (n) => n === 1,
      timeoutMs: 5_000,
    });

    b.kill('SIGTERM');
    assert.equal(await exited(b), 0, b.output());
    await waitFor('nothing left once every worker is gone', () => redis.client.exists('{q:report}:workers'), {
      until: (n) => n === 0,
      timeoutMs: 5_000,
    });
    assert.deepEqual(await redis.client.keys('{q:report}:worker*'), []);
  });
});
