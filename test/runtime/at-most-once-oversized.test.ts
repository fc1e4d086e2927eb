import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { recordPipeline } from '../helpers/pipelines.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { waitFor } from '../helpers/wait.ts';

const quiet = createLogger('silent');

/**
 * An at-most-once list sets items larger than message.max_bytes aside in {key}:oversized:<consumer>
 * until their dead letter is written. What this consumer does not know it holds there (a fetch reply
 * lost in a reconnect, a previous run under the same name) goes back to the queue, and so does what it
 * still holds at a clean stop: nothing set aside stays behind for good.
 */
describe('at-most-once list: oversized items set aside are never stranded', () => {
  const redis = usePrivateRedis({ exportUrl: true });

  const pipeline = (name: string, extra = '') =>
    recordPipeline(
      name,
      `  list: {key: "q:${name}", delivery: at-most-once, consumer: c1, block_timeout_ms: 100}`,
      `message: {format: binary, max_bytes: 1024}\n${extra}`,
    );
  const deadPayloads = async (key: string): Promise<Buffer[]> =>
    (await redis.client.lrangeBuffer(key, 0, -1)).map((e) =>
      Buffer.from((JSON.parse(e.toString()) as { payload: string }).payload, 'base64'),
    );

  it("a previous run's items and a lost fetch reply's (simulated, then a reconnect) are dead-lettered, byte for byte", async () => {
    const name = 'amo-lost';
    const client = redis.client;
    const hash = `{q:${name}}:oversized:c1`;
    // What a run under the same consumer name left set aside when it was killed.
    const previous = randomBytes(5000);
    await client.hset(hash, '7', previous);
    const worker = await Worker.start([await redis.dir.load(name, pipeline(name))], { logger: quiet });
    try {
      await waitFor(`the previous run's item dead-lettered`, () => client.llen(`q:${name}:dead`), { until: (n) => n === 1 });
      assert.deepEqual(await deadPayloads(`q:${name}:dead`), [previous]);
      await waitFor('its id removed from the oversized hash', () => client.exists(hash), { until: (n) => n === 0 });

      // A pop whose reply was lost leaves its oversized items in the hash, unknown to the worker.
      const lost = randomBytes(3000);
      await client.hset(hash, '1000', lost);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await client.hlen(hash), 1, 'untouched while the connection stays up');
      const clients = String(await client.client('LIST'));
      const reader = /id=(\d+) .*name=pythia:amo-lost:reader/.exec(clients)?.[1];
      assert.ok(reader, `the reader connection in CLIENT LIST:\n${clients}`);
      await client.client('KILL', 'ID', reader);
      await waitFor('the lost reply item dead-lettered after the reconnect', () => client.llen(`q:${name}:dead`), {
        until: (n) => n === 2,
      });
      assert.deepEqual((await deadPayloads(`q:${name}:dead`)).sort(Buffer.compare), [previous, lost].sort(Buffer.compare));
      await waitFor('the oversized hash emptied', () => client.exists(hash), { until: (n) => n === 0 });

      // And the worker goes on: a message of an allowed size is handled.
      await client.lpush(`q:${name}`, '{"id":1}');
      await waitFor('a small message handled', () => client.llen(`${name}:out`), { until: (n) => n === 1 });
    } finally {
      await worker.stop();
    }
  });

  it('a clean stop hands an oversized item whose dead letter could not be written back to the queue, whole', async () => {
    const name = 'amo-stop';
    const client = redis.client;
    // The dead letter list is a string: every write fails with WRONGTYPE, so the item stays set aside.
    await client.set(`${name}:dead`, 'not a list');
    const worker = await Worker.start([await redis.dir.load(name, pipeline(name, `dead_letter: {list: "${name}:dead"}`))], {
      logger: quiet,
    });
    const big = randomBytes(4000);
    try {
      await client.lpush(`q:${name}`, big);
      await waitFor('the item set aside', () => client.hlen(`{q:${name}}:oversized:c1`), { until: (n) => n === 1 });
    } finally {
      await worker.stop();
    }
    assert.equal(await client.exists(`{q:${name}}:oversized:c1`), 0, 'nothing left set aside');
    assert.deepEqual(await client.lrangeBuffer(`q:${name}`, 0, -1), [big], 'back in the queue, byte for byte');
  });
});
