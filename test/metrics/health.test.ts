import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { startRedis, type RedisServer } from '../helpers/redis-server.ts';
import { captureLogs, get, PipelineFiles, sample } from './support/harness.ts';
import { waitFor } from '../helpers/wait.ts';
import { pipelineYaml } from '../helpers/pipelines.ts';

const healthPipeline = (name: string, module: string, port = 0) =>
  pipelineYaml(name, {
    redis: false,
    source: `  list: {key: "q:${name}", batch_size: 1, block_timeout_ms: 200}`,
    message: '{format: json}',
    handler: `{module: "{{support}}/${module}"}`,
    concurrency: 1,
    metrics: `{enabled: true, host: 127.0.0.1, port: ${port}, path: /prom}`,
    shutdown: '{grace_period_ms: 3000}',
  });

describe('health endpoints', () => {
  let redis: RedisServer;
  const files = new PipelineFiles();
  const workers: Promise<Worker>[] = [];

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    // Whatever a failed test left running stops before its Redis does.
    await Promise.allSettled(workers.map(async (w) => (await w).stop(0)));
    await redis.stop();
    files.remove();
  });

  it('/readyz: 503 while starting, 200 while consuming, 503 while draining; /livez 200 throughout', async () => {
    process.env.SLOW_START_MS = '600';
    // Not imported by validation: the module's slow top-level await then runs inside Worker.start.
    const loaded = await files.load('health', healthPipeline('health', 'slow-start.ts'), { importModules: false });
    const logs = captureLogs();
    const starting = Worker.start([loaded], { redisUrl: redis.url, logger: createLogger('info', logs.stream), metrics: true });
    workers.push(starting);

    // The bound port of metrics.port 0 is in the log line (and on worker.metricsServer).
    let port = 0;
    await waitFor('the listening log line', () => {
      port = Number(logs.lines().find((l) => l.msg === 'metrics server listening')?.port ?? 0);
      return port > 0;
    });
    const base = `http://127.0.0.1:${port}`;
    const early = await get(`${base}/readyz`);
    assert.equal(early.status, 503, early.body);
    assert.equal((JSON.parse(early.body) as { pipelines: { state: string }[] }).pipelines[0]?.state, 'starting');
    assert.equal((await get(`${base}/livez`)).status, 200);

    const worker = await starting;
    assert.equal(worker.metricsServer?.port, port);
    const ready = await get(`${base}/readyz`);
    assert.equal(ready.status, 200, ready.body);
    assert.deepEqual(JSON.parse(ready.body), {
      ready: true,
      draining: false,
      pipelines: [{ name: 'health', state: 'consuming', redis: 'connected' }],
    });

    // A slow message is in flight when the drain starts; the probe must say 503 until the end.
    await redis.client().lpush('q:health', JSON.stringify({ ms: 700 }));
    await waitFor(
      'the message in flight',
      async () => sample((await get(`${base}/prom`)).body, 'pythia_in_flight', { pipeline: 'health' }) === 1,
    );
    const stopping = worker.stop();
    const draining = await get(`${base}/readyz`);
    assert.equal(draining.status, 503, draining.body);
    assert.equal((JSON.parse(draining.body) as { draining: boolean }).draining, true);
    assert.equal((await get(`${base}/livez`)).status, 200, 'alive while draining');
    const during = (await get(`${base}/prom`)).body;
    assert.equal(sample(during, 'pythia_in_flight', { pipeline: 'health' }), 1, 'metrics still served while draining');
    await stopping;

    // The in-flight message finished within the grace period, and the server is closed.
    const final = await worker.observability?.metrics.scrape();
    assert.equal(sample(final ?? '', 'pythia_messages_total', { pipeline: 'health', source: 'list:q:health', outcome: 'ok' }), 1);
    await assert.rejects(get(`${base}/livez`));
  });

  it('answers 404 elsewhere, 405 to other methods, and HEAD without a body', async () => {
    const loaded = await files.load(
      'paths',
      healthPipeline('paths', 'handlers.ts').replace('handler: {module: "', 'handler: {export: slow, module: "'),
    );
    const worker = await Worker.start([loaded], { redisUrl: redis.url, logger: createLogger('silent'), metrics: true });
    workers.push(Promise.resolve(worker));
    try {
      const base = worker.metricsServer?.url ?? '';
      assert.equal((await get(`${base}/metrics`)).status, 404, 'only metrics.path serves metrics');
      const prom = await fetch(`${base}/prom`);
      assert.equal(prom.status, 200);
      assert.match(prom.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      assert.equal((await fetch(`${base}/prom`, { method: 'POST' })).status, 405);
      const head = await fetch(`${base}/readyz`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), '');
    } finally {
      await worker.stop(0);
    }
  });

  it('fails to start with a clear message when the port is taken, leaving nothing running', async () => {
    const first = await Worker.start(
      [
        await files.load(
          'first',
          healthPipeline('first', 'handlers.ts').replace('handler: {module: "', 'handler: {export: slow, module: "'),
        ),
      ],
      { redisUrl: redis.url, logger: createLogger('silent'), metrics: true },
    );
    try {
      const port = first.metricsServer?.port ?? 0;
      const second = await files.load(
        'second',
        healthPipeline('second', 'handlers.ts', port).replace('handler: {module: "', 'handler: {export: slow, module: "'),
      );
      await assert.rejects(
        Worker.start([second], { redisUrl: redis.url, logger: createLogger('silent'), metrics: true }),
        /metrics server cannot listen on 127\.0\.0\.1:\d+: the address is already in use/,
      );
      assert.equal((await get(`${first.metricsServer?.url}/readyz`)).status, 200, 'the first worker is unaffected');
    } finally {
      await first.stop(0);
    }
  });
});
