// `run --watch` with a pipeline file edited into something huge and invalid: the file is checked in
// a worker thread, so the live worker keeps answering /livez and keeps processing while it is.
// The latency bound is a failure bound (checking this file on the event loop stalled it for
// seconds), not a speed measurement.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exited, spawnWorker } from '../helpers/pipelines.ts';
import { waitFor } from '../helpers/wait.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';

const yaml = (name: string, extra = '') => `
name: ${name}
redis: {url: "${'${REDIS_URL}'}"}
source:
  list: {key: "q:${name}", batch_size: 10, block_timeout_ms: 200}
handler: {module: "{{support}}/handlers/record.mjs"}
output: {list: "${name}:out"}
metrics: {enabled: true, host: 127.0.0.1, port: 0}
${extra}`;

async function timedGet(url: string): Promise<{ status: number; ms: number }> {
  const start = performance.now();
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  await response.text();
  return { status: response.status, ms: performance.now() - start };
}

describe('pythia run --watch with a hostile edit', () => {
  const redis = usePrivateRedis();

  it('a 1 MB file of 40 000 unknown keys is rejected without delaying /livez or processing', { timeout: 120_000 }, async () => {
    const file = redis.dir.write('big', yaml('big'));
    const worker = spawnWorker([file], { REDIS_URL: redis.server.url, PYTHIA_LOG_FORMAT: 'json', PYTHIA_LOG_LEVEL: 'info' }, ['--watch']);
    try {
      const port = await waitFor(
        () => `the metrics port in\n${worker.output()}`,
        () => Number(/"port":(\d+)[^\n]*metrics server listening/.exec(worker.output())?.[1] ?? 0) || undefined,
      );
      await redis.client.rpush('q:big', JSON.stringify({ id: 0 }));
      await waitFor(
        () => `the first message processed\n${worker.output()}`,
        async () => (await redis.client.llen('big:out')) === 1,
      );

      const keys = Array.from({ length: 40_000 }, (_, i) => `key_number_${i}: ${i}\n`).join('');
      redis.dir.write('big', yaml('big', keys));
      const latencies: number[] = [];
      let id = 1;
      while (!worker.output().includes('reload rejected')) {
        await redis.client.rpush('q:big', JSON.stringify({ id: id++ }));
        const { status, ms } = await timedGet(`http://127.0.0.1:${port}/livez`);
        assert.equal(status, 200);
        latencies.push(ms);
        await new Promise((r) => setTimeout(r, 20));
      }
      await waitFor('every message pushed during the check processed', async () => (await redis.client.llen('big:out')) === id);
      const worst = Math.max(...latencies);
      console.log(`/livez answered ${latencies.length} times during the check; slowest ${worst.toFixed(0)} ms`);
      assert.ok(worst < 1500, `/livez took ${worst.toFixed(0)} ms while the file was checked`);
      assert.match(worker.output(), /big\.yml:1:1: more than 50 problems/);
    } finally {
      worker.kill('SIGTERM');
      await exited(worker);
    }
  });
});
