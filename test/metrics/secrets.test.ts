import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { registerSecret, scrubSecrets } from '../../src/redis/redact.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { startRedis, type RedisServer } from '../helpers/redis-server.ts';
import { captureLogs, get, PipelineFiles, sample } from './support/harness.ts';
import { waitFor } from '../helpers/wait.ts';

const PASSWORD = 'pyth1a-S3cret/pa55+word';

describe('credentials never reach logs or metrics', () => {
  let redis: RedisServer;
  let worker: Worker | undefined;
  const files = new PipelineFiles();

  before(async () => {
    redis = await startRedis({ password: PASSWORD });
  });
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const step of cleanups) await step();
    await worker?.stop(0);
    await redis.stop();
    files.remove();
  });

  it('scrubs URL user info, AUTH arguments and registered secrets from text', () => {
    assert.equal(scrubSecrets('connect redis://app:hunter22@db:6379/0 failed'), 'connect redis://***@db:6379/0 failed');
    assert.equal(scrubSecrets('{"u":"rediss://:x@h:1","m":"a@b"}'), '{"u":"rediss://***@h:1","m":"a@b"}');
    assert.equal(scrubSecrets('ERR AUTH default hunter22 failed'), 'ERR AUTH *** failed');
    registerSecret('correct-horse-battery');
    assert.equal(scrubSecrets('password was correct-horse-battery!'), 'password was [redacted]!');
  });

  it('with the password in the pipeline URL: processing, failures, a Redis outage and recovery leak nothing', async () => {
    assert.ok(redis.url.includes(encodeURIComponent(PASSWORD)));
    process.env.REDIS_URL = redis.url;
    process.env.LEAK_URL = `redis://default:${PASSWORD}@127.0.0.1:${redis.port}/0`;
    const loaded = await files.load(
      'secret',
      `
version: 1
name: secret
redis: {url: "\${REDIS_URL}", connection_pool_size: 2}
source:
  list: {key: "q:secret", batch_size: 10, block_timeout_ms: 200}
message: {format: json}
handler: {module: "{{support}}/handlers.ts", export: outcomes}
concurrency: 4
resilience: {max_retries: 1, retry_delay_ms: 10}
metrics: {enabled: true, host: 127.0.0.1, port: 0, redis: {interval_ms: 100}}
shutdown: {grace_period_ms: 500}
`,
    );
    const logs = captureLogs();
    const logger = createLogger('trace', logs.stream);
    const scrapes: string[] = [];
    const scrape = async (path: string) => {
      const response = await get(`${worker?.metricsServer?.url}${path}`);
      scrapes.push(response.body);
      return response;
    };

    worker = await Worker.start([loaded], { logger, metrics: true });
    const client = redis.client();
    await client.lpush('q:secret', ...['ok', 'ok', 'ok', 'leak', 'leak', 'flaky'].map((mode) => JSON.stringify({ mode })));
    await waitFor(
      'messages processed',
      async () =>
        sample((await scrape('/metrics')).body, 'pythia_messages_total', { pipeline: 'secret', source: 'list:q:secret', outcome: 'ok' }) ===
        4,
    );
    await waitFor(
      'dead letters written',
      async () =>
        sample((await scrape('/metrics')).body, 'pythia_messages_total', {
          pipeline: 'secret',
          source: 'list:q:secret',
          outcome: 'dead_lettered',
        }) === 2,
    );

    // Loggers of every shape, fed the URL and the password directly.
    logger.info({ config: { redis: { url: redis.url } }, target: redis.url }, `connecting to ${redis.url}`);
    logger.child({ pipeline: 'secret' }).warn({ err: new Error(`cannot connect to ${process.env.LEAK_URL}`) }, 'child logger');
    logger.error(new Error(`AUTH failed with ${PASSWORD}`));
    logger.info({ password: PASSWORD, nested: { note: `the password is ${PASSWORD}` } }, 'fields');

    // Redis goes away: connection errors, failed samples and a 503; then it comes back.
    await redis.kill();
    // Restart it even when an assertion below fails: stopping a worker waits for its Redis.
    let restarted = false;
    cleanups.push(async () => {
      if (!restarted) await redis.start();
    });
    await waitFor('readyz 503 with Redis down', async () => (await scrape('/readyz')).status === 503);
    await waitFor('a failed sample logged', () => logs.text().includes('sampling redis gauges failed'));
    await waitFor('a connection error logged', () => logs.text().includes('redis connection error'));
    const down = (await scrape('/metrics')).body;
    assert.ok(
      (sample(down, 'pythia_redis_connections', { pipeline: 'secret', state: 'ready' }) ?? 3) < 3,
      'connection gauge shows the outage',
    );
    await redis.start();
    restarted = true;
    await waitFor('readyz 200 after Redis is back', async () => (await scrape('/readyz')).status === 200, { timeoutMs: 15_000 });
    await worker.stop();
    worker = undefined;
    // What stop() logs reaches the captured stream asynchronously; its last line says it is all there.
    await waitFor('the "pipeline stopped" log line', () => logs.lines().some((l) => l.msg === 'pipeline stopped'));

    const everything = [logs.text(), ...scrapes].join('\n');
    for (const form of [PASSWORD, encodeURIComponent(PASSWORD), JSON.stringify(PASSWORD).slice(1, -1)]) {
      assert.ok(
        !everything.includes(form),
        `found the password (as ${form}) in:\n${everything
          .split('\n')
          .filter((l) => l.includes(form))
          .join('\n')}`,
      );
    }
    // The redactions did happen (the test would be empty otherwise).
    assert.ok(logs.text().includes('***@127.0.0.1'), 'URLs keep host and port, lose the credentials');
    assert.ok(
      logs.lines().some((l) => l.msg === 'dead-lettering message'),
      'the leaking handler errors were logged',
    );
    assert.ok(logs.lines().some((l) => l.msg === 'redis connection error'));
  });
});
