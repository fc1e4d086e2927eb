import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/runtime/logger.ts';
import { produceSequence } from '../helpers/produce.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { PipelineDir, pipelineYaml, recordPipeline } from '../helpers/pipelines.ts';
import { startRedis, type RedisServer } from '../helpers/redis-server.ts';
import { waitFor } from '../helpers/wait.ts';

const N = 2000;
const quiet = createLogger('silent');

describe('each source kind processes every message exactly once', () => {
  let server: RedisServer;
  const dir = new PipelineDir();
  before(async () => {
    server = await startRedis();
    process.env.REDIS_URL = server.url;
  });
  after(async () => {
    await server.stop();
    dir.remove();
  });

  const ids = async (key: string) => (await server.client().lrange(key, 0, -1)).map((r) => (JSON.parse(r) as { id: number }).id);

  for (const delivery of ['at-least-once', 'at-most-once']) {
    it(`list, ${delivery}`, async () => {
      const name = `list-${delivery}`;
      const loaded = await dir.load(
        name,
        recordPipeline(name, `  list: {key: "q:${name}", batch_size: 100, delivery: ${delivery}}`, 'concurrency: 16'),
      );
      await produceSequence(loaded, N);
      const worker = await Worker.start([loaded], { logger: quiet });
      const client = server.client();
      await waitFor('all messages processed', async () => (await client.llen(`${name}:out`)) >= N);
      await worker.stop();
      const seen = await ids(`${name}:out`);
      assert.equal(seen.length, N);
      assert.equal(new Set(seen).size, N, 'no duplicates');
      assert.equal(await client.llen(`q:${name}`), 0);
      const leftovers = await client.keys(`{q:${name}}:processing:*`);
      assert.deepEqual(leftovers, [], 'processing lists are empty after a clean stop');
    });
  }

  it('list: FIFO with LPUSH producers at concurrency 1', async () => {
    const name = 'fifo';
    const loaded = await dir.load(name, recordPipeline(name, `  list: {key: "q:${name}", batch_size: 7}`, 'concurrency: 1'));
    await produceSequence(loaded, 100);
    const worker = await Worker.start([loaded], { logger: quiet });
    const client = server.client();
    await waitFor(`LLEN ${name}:out >= 100`, () => client.llen(`${name}:out`), { until: (n) => n >= 100 });
    await worker.stop();
    // The output list is LPUSHed too: reversed, it is the processing order.
    const order = (await ids(`${name}:out`)).reverse();
    assert.deepEqual(
      order,
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
  });

  it('stream: consumer group, acks, fields and body', async () => {
    const name = 'stream';
    const loaded = await dir.load(
      name,
      recordPipeline(
        name,
        `  stream: {key: "s:${name}", consumer_group: g, consumer: c1, start_id: "0", batch_size: 50}`,
        'concurrency: 16',
      ),
    );
    await produceSequence(loaded, N);
    const worker = await Worker.start([loaded], { logger: quiet });
    const client = server.client();
    await waitFor(`LLEN ${name}:out >= ${N}`, () => client.llen(`${name}:out`), { until: (n) => n >= N });
    await worker.stop();
    const seen = await ids(`${name}:out`);
    assert.equal(new Set(seen).size, N);
    assert.equal(seen.length, N);
    const pending = (await client.xpending(`s:${name}`, 'g')) as [number];
    assert.equal(pending[0], 0, 'everything acknowledged');
  });

  it('stream: a body field is the body, other entries expose all fields', async () => {
    const name = 'stream-fields';
    const loaded = await dir.load(
      name,
      pipelineYaml(
        name,
        {
          source: `  stream: {key: "s:${name}", consumer_group: g, start_id: "0"}`,
          handler: '{module: "{{support}}/handlers/fields.mjs"}',
          output: `{list: "${name}:out"}`,
        },
        'concurrency: 16',
      ),
    );
    const client = server.client();
    await client.xadd(`s:${name}`, '*', 'body', '{"id": 1}', 'extra', 'x');
    await client.xadd(`s:${name}`, '*', 'id', '2', 'kind', 'plain');
    // Field names that are special to JavaScript objects stay plain fields.
    await client.xadd(`s:${name}`, '*', '__proto__', 'p', 'constructor', 'c');
    const worker = await Worker.start([loaded], { logger: quiet });
    await waitFor(`LLEN ${name}:out >= 3`, () => client.llen(`${name}:out`), { until: (n) => n >= 3 });
    await worker.stop();
    const results = (await client.lrange(`${name}:out`, 0, -1))
      .map((r) => JSON.parse(r) as { body: unknown; fields: Record<string, string> })
      .reverse();
    assert.deepEqual(results[0], { body: { id: 1 }, fields: { body: '{"id": 1}', extra: 'x' } });
    assert.deepEqual(results[1], { body: { id: '2', kind: 'plain' }, fields: { id: '2', kind: 'plain' } });
    const special = JSON.parse('{"__proto__": "p", "constructor": "c"}') as Record<string, string>;
    assert.deepEqual(results[2], { body: special, fields: special });
  });

  it('channel: SUBSCRIBE and PSUBSCRIBE', async () => {
    const name = 'channel';
    const loaded = await dir.load(
      name,
      recordPipeline(name, `  channel: {channels: ["ch:${name}"], patterns: ["pat.*"]}`, 'concurrency: 16'),
    );
    const worker = await Worker.start([loaded], { logger: quiet });
    const client = server.client();
    await produceSequence(loaded, N);
    await client.publish('pat.one', JSON.stringify({ id: N + 1 }));
    await waitFor(`LLEN ${name}:out >= ${N + 1}`, () => client.llen(`${name}:out`), { until: (n) => n >= N + 1 });
    await worker.stop();
    const seen = await ids(`${name}:out`);
    assert.equal(new Set(seen).size, N + 1);
  });
});
