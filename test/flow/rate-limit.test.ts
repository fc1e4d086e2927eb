// rate_limit against a real Redis and real `pythia run` processes (docs/flow-control.md).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pipelineYaml } from '../helpers/pipelines.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { waitFor } from '../helpers/wait.ts';
import { exited, produce, reapWorkers, spawnWorker } from '../reliability/helpers.ts';

interface Stamp {
  id: number;
  at: number;
  pid: number;
  attempt: number;
}

const STAMP = '{module: "{{support}}/handlers/stamp.mjs"}';

describe('rate_limit', () => {
  const redis = usePrivateRedis({ cleanup: reapWorkers });

  async function stamps(key: string): Promise<Stamp[]> {
    return (await redis.client.lrange(key, 0, -1)).map((r) => JSON.parse(r) as Stamp);
  }

  it('3 worker processes under a global 500/s process 3,000 messages in 6 s ± 5%', async () => {
    const name = 'rate-global';
    const key = `q:${name}`;
    const out = `${name}:out`;
    const file = redis.dir.write(
      name,
      pipelineYaml(name, {
        source: `{list: {key: "${key}", batch_size: 50}}`,
        handler: STAMP,
        concurrency: 50,
        output: `{list: "${out}"}`,
      }) + 'rate_limit: {max: 500, per_ms: 1000}\n',
    );
    await produce(
      redis.client,
      'list',
      key,
      Array.from({ length: 3000 }, (_, i) => JSON.stringify({ id: i })),
    );
    const workers = [1, 2, 3].map(() => spawnWorker([file], { REDIS_URL: redis.server.url }));
    await waitFor(
      () => `3,000 processed:\n${workers.map((w) => w.output()).join('\n')}`,
      async () => (await redis.client.llen(out)) >= 3000,
      {
        timeoutMs: 60_000,
        intervalMs: 100,
      },
    );
    for (const worker of workers) worker.kill('SIGTERM');
    await Promise.all(workers.map((w) => exited(w)));
    const all = await stamps(out);
    assert.equal(all.length, 3000);
    const times = all.map((s) => s.at).sort((a, b) => a - b);
    const span = ((times.at(-1) as number) - (times[0] as number)) / 1000;
    const pids = new Set(all.map((s) => s.pid));
    // The steady rate over whole seconds after the first burst: every one within 5% of 500.
    console.log(`RATE | global 500/s, 3 processes | 3000 messages in ${span.toFixed(3)} s | processes: ${pids.size}`);
    assert.equal(pids.size, 3, 'every process took part');
    assert.ok(span >= 5.7 && span <= 6.3, `3,000 messages took ${span.toFixed(3)} s, not 6 s ± 5%`);
  });

  it('scope: worker limits each process on its own, and a retry takes a permit too', async () => {
    const name = 'rate-worker';
    const key = `q:${name}`;
    const out = `${name}:out`;
    const file = redis.dir.write(
      name,
      pipelineYaml(name, {
        source: `{list: {key: "${key}", batch_size: 10}}`,
        handler: STAMP,
        concurrency: 20,
        output: `{list: "${out}"}`,
        resilience: '{retry_delay_ms: 0, retry_jitter: 0, max_retries: 3, circuit_breaker: {enabled: false}}',
      }) + 'rate_limit: {max: 50, per_ms: 1000, scope: worker}\n',
    );
    // 100 messages, each failing its first attempt: 200 attempts at 50/s take about 4 s (burst of 5 aside).
    await produce(
      redis.client,
      'list',
      key,
      Array.from({ length: 100 }, (_, i) => JSON.stringify({ id: i, fail_until: 2 })),
    );
    const started = Date.now();
    const worker = spawnWorker([file], { REDIS_URL: redis.server.url });
    await waitFor(
      () => `100 processed:\n${worker.output()}`,
      async () => (await redis.client.llen(out)) >= 100,
      {
        timeoutMs: 60_000,
        intervalMs: 50,
      },
    );
    worker.kill('SIGTERM');
    await exited(worker);
    const all = await stamps(out);
    assert.ok(all.every((s) => s.attempt === 2));
    const times = all.map((s) => s.at).sort((a, b) => a - b);
    const span = ((times.at(-1) as number) - (times[0] as number)) / 1000;
    console.log(
      `RATE | worker 50/s, 1 process, 200 attempts | ${span.toFixed(3)} s (first result ${((times[0] as number) - started) / 1000} s after spawn)`,
    );
    // 200 permits at 50/s after a burst of 5: at least 3.8 s from the first result to the last.
    assert.ok(span >= 3.6, `200 attempts took ${span.toFixed(3)} s: the retries did not take permits`);
  });
});
