import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { DeadLetterEntry } from '../../src/outputs/dead-letter.ts';
import { exited, spawnWorker } from '../helpers/pipelines.ts';
import { waitFor } from '../../src/testing/index.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';

const children: ReturnType<typeof spawnWorker>[] = [];
const redis = usePrivateRedis({ cleanup: () => children.forEach((c) => c.kill('SIGKILL')) });

function yaml(name: string, body: string): string {
  return `name: ${name}\nredis: {url: "${redis.server.url}"}\nmetrics: {enabled: false}\n${body}\n`;
}

function worker(file: string): ReturnType<typeof spawnWorker> {
  const child = spawnWorker([file]);
  children.push(child);
  return child;
}

async function deadLetters(key: string): Promise<DeadLetterEntry[]> {
  return (await redis.client.lrange(key, 0, -1)).reverse().map((r) => JSON.parse(r) as DeadLetterEntry);
}

describe('one hostile message never ends the worker', () => {
  it('a body nested 20,000 deep against a recursive schema is dead-lettered as decode_error; the worker goes on', async () => {
    const schema = path.join(redis.dir.dir, 'recursive.schema.json');
    writeFileSync(schema, JSON.stringify({ type: 'object', properties: { child: { $ref: '#' } } }));
    const file = redis.dir.write(
      'deep',
      yaml(
        'deep',
        `source: {list: {key: "q:deep", block_timeout_ms: 100}}
message: {format: json, schema: ${JSON.stringify(schema)}}
handler: {module: "{{support}}/handlers/record.mjs"}
output: {list: "deep:out"}`,
      ),
    );
    const deep = '{"child":'.repeat(20_000) + '{}' + '}'.repeat(20_000);
    await redis.client.lpush('q:deep', deep, '{"id":1}');
    const child = worker(file);
    await waitFor(
      () => `the deep body dead-lettered and the next message handled; worker log: ${child.output()}`,
      async () => (await redis.client.llen('deep:out')) === 1 && (await redis.client.llen('q:deep:dead')) === 1,
      { timeoutMs: 20_000 },
    );
    assert.equal(child.exitCode, null, `the worker is still running: ${child.output()}`);
    const [entry] = await deadLetters('q:deep:dead');
    assert.equal(entry?.reason, 'decode_error');
    assert.match(entry?.error ?? '', /^decoding failed: .*call stack/i);
    assert.equal(entry?.payload, deep, 'the payload is kept whole');
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0);
  });

  it('list: an item that kills every worker that takes it ends as a max_deliveries dead letter', async () => {
    const file = redis.dir.write(
      'killer',
      yaml(
        'killer',
        `source: {list: {key: "q:killer", block_timeout_ms: 100, heartbeat_ttl_ms: 1000, recovery_interval_ms: 100, max_deliveries: 2}}
handler: {module: "{{support}}/handlers/crash.mjs"}
output: {list: "killer:out"}`,
      ),
    );
    await redis.client.lpush('q:killer', '{"id":1,"crash":true}');
    let crashes = 0;
    // Each worker takes the killer item and dies with it; the next one recovers it (counting a delivery).
    for (let round = 0; round < 5 && (await redis.client.llen('q:killer:dead')) === 0; round++) {
      const child = worker(file);
      const result = await Promise.race([
        exited(child).then(() => 'exited' as const),
        waitFor('a dead letter', async () => (await redis.client.llen('q:killer:dead')) > 0, { timeoutMs: 8000 }).then(
          () => 'dead-lettered' as const,
        ),
      ]);
      if (result === 'exited') crashes++;
      else {
        await redis.client.lpush('q:killer', '{"id":2}');
        await waitFor(
          () => `the next message handled; worker log: ${child.output()}`,
          async () => (await redis.client.llen('killer:out')) === 1,
          { timeoutMs: 10_000 },
        );
        child.kill('SIGTERM');
        await exited(child);
      }
    }
    assert.equal(crashes, 2, 'two deliveries killed two workers; the third delivery went to the dead letter');
    const [entry] = await deadLetters('q:killer:dead');
    assert.equal(entry?.reason, 'max_deliveries');
    assert.match(entry?.error ?? '', /delivered 3 times, more than source\.list\.max_deliveries \(2\)/);
    assert.equal(JSON.parse(entry?.payload ?? '{}').id, 1);
    assert.deepEqual(await redis.client.lrange('killer:out', 0, -1), ['{"id":2}'], 'the worker that dead-lettered it goes on');
    assert.equal(await redis.client.exists('{q:killer}:deliveries'), 0, 'the count is gone with the item');
    assert.equal(await redis.client.llen('q:killer'), 0);
  });
});
