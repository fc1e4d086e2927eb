import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { PipelineDir } from '../helpers/pipelines.ts';
import { startRedis, type RedisServer } from '../helpers/redis-server.ts';

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
    const loaded = await dir.load('health', `
name: health
redis: {url: "${server.url}", connection_pool_size: 3, health_check_interval_s: 1}
source: {list: {key: "q:health"}}
handler: {module: "{{support}}/handlers/record.mjs"}
metrics: {enabled: false}
`);
    const client = server.client();
    await client.config('RESETSTAT');
    const worker = await Worker.start([loaded], { logger: createLogger('silent') });
    await new Promise((r) => setTimeout(r, 2300));
    await worker.stop();
    const stats = await client.info('commandstats');
    const pings = Number(/cmdstat_ping:calls=(\d+)/.exec(stats)?.[1] ?? 0);
    assert.ok(pings >= 6, `3 connections × 2 intervals, got ${pings} PINGs`);
  });
});
