import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { startRedis, type RedisServer } from '../helpers/redis-server.ts';
import { captureLogs, get, PipelineFiles, sample } from './support/harness.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { pipelineYaml } from '../helpers/pipelines.ts';

const gaugedPipeline = (name: string, source: string, concurrency: number) =>
  pipelineYaml(name, {
    redis: '{connection_pool_size: 2}',
    source,
    message: '{format: json}',
    handler: '{module: "{{support}}/handlers.ts", export: block}',
    concurrency,
    metrics: '{enabled: true, host: 127.0.0.1, port: 0, redis: {interval_ms: 100}}',
    shutdown: '{grace_period_ms: 0}',
  });

describe('metrics: Redis gauges', () => {
  let redis: RedisServer;
  let worker: Worker | undefined;
  const files = new PipelineFiles();
  const logs = captureLogs();
  let url = '';

  before(async () => {
    redis = await startRedis();
    const client = redis.client();
    await client.lpush('q:gauges', ...Array.from({ length: 10 }, (_, i) => JSON.stringify({ i })));
    for (let i = 0; i < 5; i++) await client.xadd('s:gauges', '*', 'body', JSON.stringify({ i }));
    const list = await files.load(
      'glist',
      gaugedPipeline('glist', '  list: {key: "q:gauges", batch_size: 1, consumer: c1, block_timeout_ms: 200}', 1),
    );
    const stream = await files.load(
      'gstream',
      gaugedPipeline(
        'gstream',
        '  stream: {key: "s:gauges", consumer_group: workers, consumer: c1, start_id: "0", batch_size: 2, block_timeout_ms: 200}',
        2,
      ),
    );
    worker = await Worker.start([list, stream], { redisUrl: redis.url, logger: createLogger('debug', logs.stream), metrics: true });
    assert.ok(worker.metricsServer);
    url = `${worker.metricsServer.url}/metrics`;
  });
  after(async () => {
    await worker?.stop(0);
    await redis.stop();
    files.remove();
  });

  it('shows the list length and the processing list of the consumer holding one blocked message', async () => {
    let text = '';
    await waitFor('list gauges', async () => {
      text = (await get(url)).body;
      return (
        sample(text, 'pythia_redis_queue_length', { pipeline: 'glist', key: 'q:gauges' }) === 9 &&
        sample(text, 'pythia_redis_queue_length', { pipeline: 'glist', key: '{q:gauges}:processing:*' }) === 1
      );
    });
    assert.equal(sample(text, 'pythia_in_flight', { pipeline: 'glist' }), 1);
    assert.ok((sample(text, 'pythia_redis_memory_used_bytes') ?? 0) > 100_000, 'used_memory from INFO memory');
    // The blocking reader plus connection_pool_size (2) pool connections, all up.
    assert.equal(sample(text, 'pythia_redis_connections', { pipeline: 'glist', state: 'ready' }), 3);
    assert.equal(sample(text, 'pythia_redis_connections', { pipeline: 'glist', state: 'reconnecting' }), 0);
  });

  it('shows stream length, group pending count and lag', async () => {
    let text = '';
    await waitFor('stream gauges', async () => {
      text = (await get(url)).body;
      return sample(text, 'pythia_redis_stream_pending', { pipeline: 'gstream', group: 'workers' }) === 2;
    });
    assert.equal(sample(text, 'pythia_redis_queue_length', { pipeline: 'gstream', key: 's:gauges' }), 5);
    assert.equal(sample(text, 'pythia_redis_stream_lag', { pipeline: 'gstream', group: 'workers' }), 3);
    assert.equal(sample(text, 'pythia_in_flight', { pipeline: 'gstream' }), 2);
    assert.equal(sample(text, 'pythia_redis_connections', { pipeline: 'gstream', state: 'ready' }), 3);
  });

  it('takes each sample in one pipelined round trip', async () => {
    const client = redis.client();
    await client.config('RESETSTAT');
    // Each poll is an INFO of its own, counted in the next one: `polls - 1` of the INFO calls are this test's.
    let polls = 0;
    const stats = await waitFor(
      'five samples of the stream pipeline',
      async () => {
        polls++;
        return client.info('commandstats');
      },
      { until: (text) => Number(/^cmdstat_xlen:calls=(\d+)/m.exec(text)?.[1] ?? 0) >= 5 },
    );
    const calls = (command: string) => Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
    const samplerInfo = calls('info') - (polls - 1);
    // Both pipelines sample every 100 ms: each sample is one EVAL (list) or one XLEN + XINFO (stream), and one INFO.
    assert.ok(Math.abs(calls('eval') - calls('xlen')) <= 2, `eval ${calls('eval')} vs xlen ${calls('xlen')}: one EVAL per list sample`);
    assert.equal(calls('xlen'), calls('xinfo\\|groups'));
    assert.ok(
      Math.abs(samplerInfo - calls('eval') - calls('xlen')) <= 2,
      `info ${samplerInfo} vs samples ${calls('eval') + calls('xlen')}`,
    );
  });

  it('follows a pipeline replaced by hot reload: one sampler, fresh connections', async () => {
    assert.ok(worker);
    const old = worker.pipelines.find((p) => p.name === 'glist');
    assert.ok(old);
    const again = await files.load(
      'glist',
      gaugedPipeline('glist', '  list: {key: "q:gauges", batch_size: 1, consumer: c1, block_timeout_ms: 200}', 1),
    );
    await worker.replacePipeline(old, again);
    let text = '';
    await waitFor('gauges of the new pipeline', async () => {
      text = (await get(url)).body;
      return (
        sample(text, 'pythia_redis_queue_length', { pipeline: 'glist', key: '{q:gauges}:processing:*' }) === 1 &&
        sample(text, 'pythia_redis_queue_length', { pipeline: 'glist', key: 'q:gauges' }) === 9
      );
    });
    // The old pool closes after the new pipeline starts: then only the new pipeline's connections are counted.
    const connections = async () => {
      const page = (await get(url)).body;
      return {
        ready: sample(page, 'pythia_redis_connections', { pipeline: 'glist', state: 'ready' }),
        closed: sample(page, 'pythia_redis_connections', { pipeline: 'glist', state: 'closed' }),
      };
    };
    await waitFor("only the new pipeline's connections", connections, { until: (c) => c.ready === 3 && c.closed === 0 });
    // An idle period on purpose: an old sampler still running would fail against its closed pool on its next
    // round (every 100 ms), so after two rounds with no failure it has stopped.
    await sleep(250);
    text = (await get(url)).body;
    assert.equal(
      sample(text, 'pythia_redis_sample_failures_total', { pipeline: 'glist' }),
      0,
      'the old sampler stopped before its pool closed',
    );
  });

  it('survives a failing sample: counted, logged, and the pipeline stays ready', async () => {
    const client = redis.client();
    // XINFO GROUPS on a missing stream fails; the blocked pipeline never notices.
    await client.del('s:gauges');
    await waitFor(
      'a failed sample',
      async () => (sample((await get(url)).body, 'pythia_redis_sample_failures_total', { pipeline: 'gstream' }) ?? 0) >= 2,
    );
    assert.ok(worker?.ready, 'still ready');
    const warnings = logs
      .lines()
      .filter((l) => l.msg === 'sampling redis gauges failed; the pipeline is unaffected, retrying every interval');
    assert.equal(warnings.length, 1, 'one warning, then quiet');
    assert.equal(warnings[0]?.pipeline, 'gstream');
    const text = (await get(url)).body;
    assert.equal(sample(text, 'pythia_redis_sample_failures_total', { pipeline: 'glist' }), 0);
    assert.equal(sample(text, 'pythia_redis_queue_length', { pipeline: 'glist', key: 'q:gauges' }), 9);
  });
});
