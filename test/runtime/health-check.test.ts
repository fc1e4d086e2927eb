import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { PipelineDir } from '../helpers/pipelines.ts';
import { startRedis, type RedisServer } from '../helpers/redis-server.ts';
import { waitFor } from '../helpers/wait.ts';

describe('redis.health_check_interval_s', () => {
  let server: RedisServer;
  const dir = new PipelineDir();
  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    await server.stop();
    dir.remove();
  });

  it('PINGs every pool connection on the interval', async () => {
    const loaded = await dir.load(
      'health',
      `
name: health
redis: {url: "${server.url}", connection_pool_size: 3, health_check_interval_s: 1}
source: {list: {key: "q:health"}}
handler: {module: "{{support}}/handlers/record.mjs"}
metrics: {enabled: false}
`,
    );
    const client = server.client();
    await client.config('RESETSTAT');
    const worker = await Worker.start([loaded], { logger: createLogger('silent') });
    const pings = async () => Number(/cmdstat_ping:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0);
    try {
      // Every connection PINGed on two 1 s intervals; a worker that never PINGs times this out.
      await waitFor('3 connections × 2 intervals of PINGs', pings, { until: (n) => n >= 6, timeoutMs: 5000 });
    } finally {
      await worker.stop();
    }
  });
});
