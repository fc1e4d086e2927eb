// Flow control through a Redis outage: a `pythia run` worker with a global rate limit and ordering must
// ride out Redis frozen (SIGSTOP 5 s) or killed and restarted (appendonly) without crashing or losing
// a message. During the outage no permit is granted (fail closed); the order is not promised across it
// (docs/flow-control.md), so only liveness and completeness are checked here.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pipelineYaml } from '../helpers/pipelines.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { exited, produce, reapWorkers, spawnWorker, tally } from '../reliability/helpers.ts';

const N = 3000;

describe('flow control: Redis outages', () => {
  const redis = usePrivateRedis({ appendonly: true, cleanup: reapWorkers });

  const outages = {
    'SIGSTOP 5 s then SIGCONT': async () => {
      redis.server.signal('SIGSTOP');
      await sleep(5000);
      redis.server.signal('SIGCONT');
    },
    'kill -9 and restart (appendonly)': async () => {
      await redis.server.restart();
      redis.client = redis.server.client();
    },
  };

  for (const [outage, act] of Object.entries(outages)) {
    it(`${outage}: the worker waits, then finishes every message`, async () => {
      const name = `flow-outage-${outage.startsWith('SIGSTOP') ? 'stop' : 'restart'}`;
      const key = `q:${name}`;
      const out = `${name}:out`;
      const file = redis.dir.write(
        name,
        pipelineYaml(name, {
          source: `{list: {key: "${key}", batch_size: 50, consumer: c1}}`,
          handler: '{module: "{{support}}/handlers/stamp.mjs"}',
          concurrency: 20,
          output: `{list: "${out}"}`,
        }) + 'rate_limit: {max: 1000, per_ms: 1000}\nordering: {key: /key}\n',
      );
      await produce(
        redis.client,
        'list',
        key,
        Array.from({ length: N }, (_, i) => JSON.stringify({ id: i, key: `k${i % 20}`, seq: Math.floor(i / 20) })),
      );
      const worker = spawnWorker([file], { REDIS_URL: redis.server.url });
      await waitFor(
        () => `a quarter done:\n${worker.output()}`,
        async () => (await redis.client.llen(out)) >= N / 4,
        {
          timeoutMs: 60_000,
          intervalMs: 20,
        },
      );
      await act();
      await waitFor(
        () => `all ${N} done:\n${worker.output().slice(-3000)}`,
        async () => (await tally(redis.client, out)).unique.size,
        { until: (n) => n >= N, timeoutMs: 90_000, intervalMs: 200 },
      );
      assert.equal(worker.exitCode, null, 'the worker is still running');
      worker.kill('SIGTERM');
      assert.equal(await exited(worker), 0, worker.output().slice(-3000));
      assert.equal(await redis.client.llen(`${key}:dead`), 0);
    });
  }
});
