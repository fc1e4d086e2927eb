// /metrics as Prometheus tooling reads it: `promtool check metrics` passes (when promtool is installed:
// Debian's `prometheus` package), and the series of a list worker do not multiply across restarts
// (crashed consumers' processing lists are summed into one series per pipeline, not one per consumer).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { DROPPED_DEFAULT_METRICS, PythiaMetrics } from '../../src/metrics/registry.ts';
import { exited, spawnWorker } from '../helpers/pipelines.ts';
import { waitFor } from '../helpers/wait.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { get, sample } from './support/harness.ts';

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const PROMTOOL_MISSING = promtool.error
  ? 'promtool is not installed (Debian: apt-get install prometheus): the lint of /metrics is skipped'
  : undefined;

function promtoolCheck(exposition: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  return { status: result.status, output: result.stdout + result.stderr };
}

/** Every series of one metric, as its sorted label sets. */
function series(exposition: string, name: string): string[] {
  return exposition
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .map((line) => line.slice(0, line.lastIndexOf(' ')))
    .sort();
}

describe('/metrics for Prometheus tooling', () => {
  it('drops the default collectors whose names break the conventions, and keeps their detail', async () => {
    const exposition = await new PythiaMetrics().scrape();
    for (const name of DROPPED_DEFAULT_METRICS) assert.doesNotMatch(exposition, new RegExp(`^# TYPE ${name} `, 'm'));
    assert.match(exposition, /^# TYPE nodejs_active_handles gauge$/m);
    assert.match(exposition, /^# TYPE process_cpu_seconds_total counter$/m);
  });

  it('passes `promtool check metrics`', { skip: PROMTOOL_MISSING }, async () => {
    const metrics = new PythiaMetrics();
    metrics.messages.inc({ pipeline: 'p', source: 'list', outcome: 'ok' });
    metrics.duration.observe({ pipeline: 'p' }, 0.01);
    const { status, output } = promtoolCheck(await metrics.scrape());
    assert.equal(status, 0, output);
  });
});

describe('a list worker restarted after crashes', () => {
  const redis = usePrivateRedis({ cleanup: () => workers.forEach((w) => w.kill('SIGKILL')) });
  const workers: ReturnType<typeof spawnWorker>[] = [];

  after(() => workers.forEach((w) => w.kill('SIGKILL')));

  it("keeps the same queue-length series, with the dead consumers' items in the one processing series", async () => {
    // Default consumer names (hostname-pid-random): each process is a new consumer, as in production.
    const file = redis.dir.write(
      'restarts',
      `name: restarts\nredis: {url: "${redis.server.url}"}\nsource: {list: {key: "q:restarts", batch_size: 1, heartbeat_ttl_ms: 600000}}\nhandler: {module: "{{support}}/handlers/record.mjs"}\nconcurrency: 1\nmetrics: {host: 127.0.0.1, port: 0, redis: {interval_ms: 100}}\n`,
    );
    // Each worker takes one message that sleeps far longer than the test, and is then killed holding it.
    await redis.client.lpush('q:restarts', ...Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: i, sleep: 600_000 })));
    const seenSeries = new Set<string>();
    for (let round = 1; round <= 3; round++) {
      const worker = spawnWorker([file], { PYTHIA_LOG_FORMAT: 'json', PYTHIA_LOG_LEVEL: 'info' });
      workers.push(worker);
      let url = '';
      await waitFor(
        () => `the worker's metrics address in its log:\n${worker.output()}`,
        () => {
          const line = worker
            .output()
            .split('\n')
            .find((l) => l.includes('"worker running"'));
          url = line ? String((JSON.parse(line) as { metrics: string }).metrics) : '';
          return url !== '';
        },
        { timeoutMs: 60_000 },
      );
      let text = '';
      const inProcessing = () => sample(text, 'pythia_redis_queue_length', { pipeline: 'restarts', key: '{q:restarts}:processing:*' });
      // Round n: this worker's message and the n - 1 held by the crashed ones.
      await waitFor(
        () => `round ${round}: processing lists hold ${inProcessing()}\n${series(text, 'pythia_redis_queue_length').join('\n')}`,
        async () => {
          text = (await get(url)).body;
          return inProcessing() === round;
        },
        { timeoutMs: 30_000 },
      );
      assert.equal(sample(text, 'pythia_redis_queue_length', { pipeline: 'restarts', key: 'q:restarts' }), 10 - round);
      for (const s of series(text, 'pythia_redis_queue_length')) seenSeries.add(s);
      if (!PROMTOOL_MISSING) {
        const { status, output } = promtoolCheck(text);
        assert.equal(status, 0, output);
      }
      worker.kill('SIGKILL');
      await exited(worker);
    }
    assert.equal(
      (await redis.client.smembers('{q:restarts}:consumers')).length,
      3,
      'three consumers registered, so three processing lists exist',
    );
    assert.deepEqual([...seenSeries].sort(), [
      'pythia_redis_queue_length{pipeline="restarts",key="q:restarts"}',
      'pythia_redis_queue_length{pipeline="restarts",key="{q:restarts}:processing:*"}',
    ]);
  });
});
