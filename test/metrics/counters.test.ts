import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { startRedis, type RedisServer } from '../helpers/redis-server.ts';
import { get, PipelineFiles, sample } from './support/harness.ts';
import { waitFor } from '../helpers/wait.ts';
import { pipelineYaml } from '../helpers/pipelines.ts';

const countedPipeline = (name: string, source: string, handler: string, extra = '') =>
  pipelineYaml(
    name,
    {
      redis: false,
      source,
      message: '{format: json}',
      handler: `{module: "{{support}}/handlers.ts", export: ${handler}}`,
      concurrency: 4,
      resilience: '{max_retries: 3, retry_delay_ms: 10, retry_jitter: 0, circuit_breaker: {enabled: false}}',
      metrics: '{enabled: true, host: 127.0.0.1, port: 0, redis: {interval_ms: 100}}',
      shutdown: '{grace_period_ms: 200}',
    },
    extra,
  );

/** Every metric name in docs/metrics.md: the names are a contract and never change. */
const CONTRACT_METRICS = [
  'pythia_messages_total',
  'pythia_message_duration_seconds',
  'pythia_in_flight',
  'pythia_retries_total',
  'pythia_dead_letter_total',
  'pythia_circuit_breaker_state',
  'pythia_redis_queue_length',
  'pythia_redis_stream_pending',
  'pythia_redis_connections',
  'pythia_redis_memory_used_bytes',
];

describe('metrics: message counters', () => {
  let redis: RedisServer;
  let worker: Worker | undefined;
  const files = new PipelineFiles();

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await worker?.stop(0);
    await redis.stop();
    files.remove();
  });

  it('counts N messages exactly: ok = N - M, dead_lettered = M, retried once per flaky message', async () => {
    const client = redis.client();
    const ok = 20;
    const permanent = 6;
    const flaky = 4;
    const bodies = [...Array(ok).fill('ok'), ...Array(permanent).fill('permanent'), ...Array(flaky).fill('flaky')].map((mode: string) =>
      JSON.stringify({ mode }),
    );
    // Interleaved, so failures and successes overlap in flight.
    bodies.sort(() => Math.random() - 0.5);
    await client.lpush('q:counts', ...bodies);

    const counts = await files.load(
      'counts',
      countedPipeline(
        'counts',
        '  list: {key: "q:counts", batch_size: 8, block_timeout_ms: 200}',
        'outcomes',
        'dead_letter: {list: "q:counts:dead"}',
      ),
    );
    const drops = await files.load(
      'drops',
      countedPipeline('drops', '  channel: {channels: ["ch:drops"], buffer: 3}', 'block').replace('concurrency: 4', 'concurrency: 1'),
    );
    worker = await Worker.start([counts, drops], { redisUrl: redis.url, logger: createLogger('silent'), metrics: true });
    const server = worker.metricsServer;
    assert.ok(server, 'a metrics server runs');
    assert.notEqual(server.port, 0, 'port 0 resolves to the bound port');
    const url = `${server.url}/metrics`;
    const total = ok + permanent + flaky;
    const labels = (outcome: string) => ({ pipeline: 'counts', source: 'list:q:counts', outcome });

    // Settled: every message counted, none in flight, none left unacknowledged in the processing list. Nothing can be
    // counted after that, so a message counted twice shows in the exact values below.
    const unacknowledged = async () =>
      (await Promise.all((await client.keys('{q:counts}:processing:*')).map((key) => client.hlen(key)))).reduce((a, b) => a + b, 0);
    await waitFor(
      `${total} messages finished and acknowledged`,
      async () => {
        const page = (await get(url)).body;
        return {
          finished:
            (sample(page, 'pythia_messages_total', labels('ok')) ?? 0) +
            (sample(page, 'pythia_messages_total', labels('dead_lettered')) ?? 0),
          inFlight: sample(page, 'pythia_in_flight', { pipeline: 'counts' }),
          unacknowledged: await unacknowledged(),
        };
      },
      { until: (s) => s.finished >= total && s.inFlight === 0 && s.unacknowledged === 0 },
    );
    const text = (await get(url)).body;

    assert.equal(sample(text, 'pythia_messages_total', labels('ok')), ok + flaky);
    assert.equal(sample(text, 'pythia_messages_total', labels('dead_lettered')), permanent);
    assert.equal(sample(text, 'pythia_messages_total', labels('retried')), flaky);
    assert.equal(sample(text, 'pythia_messages_total', labels('dropped')), 0);
    assert.equal(sample(text, 'pythia_retries_total', { pipeline: 'counts' }), flaky);
    assert.equal(sample(text, 'pythia_dead_letter_total', { pipeline: 'counts', reason: 'permanent_error' }), permanent);
    assert.equal(sample(text, 'pythia_dead_letter_total', { pipeline: 'counts', reason: 'retries_exhausted' }), 0);
    // One duration per attempt: every message once, the flaky ones twice.
    assert.equal(sample(text, 'pythia_message_duration_seconds_count', { pipeline: 'counts' }), total + flaky);
    assert.equal(sample(text, 'pythia_message_duration_seconds_bucket', { pipeline: 'counts', le: '60' }), total + flaky);
    assert.ok(text.includes('pythia_message_duration_seconds_bucket{le="0.0001",pipeline="counts"}'), 'buckets start at 0.1 ms');
    assert.equal(sample(text, 'pythia_in_flight', { pipeline: 'counts' }), 0);
    assert.equal(sample(text, 'pythia_circuit_breaker_state', { pipeline: 'counts' }), 0);
    assert.equal(await client.llen('q:counts:dead'), permanent);

    for (const name of CONTRACT_METRICS) assert.ok(text.includes(`# TYPE ${name} `), `${name} is exposed`);
    assert.ok(text.includes('# TYPE process_cpu_user_seconds_total counter'), 'default process metrics are exposed');
    assert.ok(text.includes('# TYPE nodejs_eventloop_lag_seconds gauge'), 'default Node.js metrics are exposed');
  });

  it('reports pub/sub buffer overflow as outcome="dropped", equal to the source\'s own count', async () => {
    assert.ok(worker?.metricsServer);
    const url = `${worker.metricsServer.url}/metrics`;
    const publisher = redis.client();
    const pipeline = worker.pipelines.find((p) => p.name === 'drops');
    assert.ok(pipeline);
    // One message blocks the only slot, three wait in the buffer, the rest overflow.
    for (let i = 0; i < 20; i++) await publisher.publish('ch:drops', JSON.stringify({ i }));
    await waitFor('drops counted by the source', () => pipeline.source.dropped() >= 16);
    const text = (await get(url)).body;
    const dropped = sample(text, 'pythia_messages_total', { pipeline: 'drops', source: 'channel:ch:drops', outcome: 'dropped' });
    assert.equal(dropped, pipeline.source.dropped());
    assert.equal(sample(text, 'pythia_in_flight', { pipeline: 'drops' }), 1);
  });
});
