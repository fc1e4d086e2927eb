// The rate limiter's permits: the pacing arithmetic, the per-process limiter, and the shared one against
// a real Redis (two limiters on one key stand for two workers; a Redis restart in the middle).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { LocalPermits, pacing, RedisPermits, type Permits } from '../../src/flow/rate-limiter.ts';
import { planConnection } from '../../src/redis/connection.ts';
import { ConnectionPool } from '../../src/redis/pool.ts';
import { flowKeys } from '../../src/redis/keys.ts';
import { recordPipeline } from '../helpers/pipelines.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { dispatcherRig, settle } from '../dispatcher/harness.ts';

const logger = pino({ level: 'silent' });

/** Takes permits in a loop for `ms`; returns how many were granted. */
async function drain(permits: Permits, ms: number, each = 10): Promise<number> {
  const end = performance.now() + ms;
  let total = 0;
  while (performance.now() < end) total += await permits.take(each);
  return total;
}

describe('rate_limit permits', () => {
  it('paces max per per_ms evenly, with a burst of 100 ms worth (at least 1, at most max)', () => {
    assert.deepEqual(pacing(500, 1000), { intervalUs: 2000, toleranceUs: 49 * 2000 });
    assert.deepEqual(pacing(10, 60_000), { intervalUs: 6_000_000, toleranceUs: 0 });
    assert.deepEqual(pacing(3, 100), { intervalUs: 100_000 / 3, toleranceUs: (2 * 100_000) / 3 });
  });

  it('scope worker: a burst, then one permit per interval; waiting is reported; permits given back are reused', async () => {
    let waited = 0;
    const permits = new LocalPermits(pacing(1000, 1000), { onWait: (s) => (waited += s), logger });
    assert.equal(await permits.take(1000), 100, 'the burst: 100 ms worth');
    assert.equal(waited, 0);
    const started = performance.now();
    let total = 0;
    while (total < 200) total += await permits.take(50);
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 180, `200 more permits at 1000/s came in ${elapsed.toFixed(0)} ms`);
    assert.ok(waited > 0.1, 'the wait is reported');
    permits.giveBack(5);
    assert.equal(await permits.take(5), 5, 'given back, taken again at once');
  });

  it('interrupt() ends a wait with 0 permits', async () => {
    const permits = new LocalPermits(pacing(1, 60_000), { onWait: () => undefined, logger });
    assert.equal(await permits.take(1), 1);
    const waiting = permits.take(1);
    setTimeout(() => permits.interrupt(), 50);
    assert.equal(await waiting, 0);
  });

  it('the dispatcher takes a permit per fetched message and per retry, and gives back what a fetch did not use', async () => {
    const asked: number[] = [];
    const returned: number[] = [];
    const permits: Permits = {
      take: (wanted) => {
        asked.push(wanted);
        return Promise.resolve(1);
      },
      giveBack: (count) => void returned.push(count),
      interrupt: () => undefined,
    };
    const rig = await dispatcherRig({ concurrency: 3 }, undefined, { permits });
    assert.deepEqual(rig.source.fetches, [1], 'one permit granted: one message fetched');
    rig.source.push([JSON.stringify({ n: 1 })]);
    await settle();
    rig.handler.calls[0]?.reject(new Error('boom'));
    await settle();
    const before = asked.length;
    await rig.clock.advance(1000);
    assert.equal(rig.handler.calls.length, 2, 'retried');
    assert.ok(asked.length > before, 'the retry took a permit');
    const stopped = rig.dispatcher.stop(0);
    await rig.clock.advance(1);
    await stopped;
    assert.ok(returned.every((n) => n >= 0));
  });

  describe('scope global (Redis)', () => {
    const redis = usePrivateRedis({ exportUrl: true });

    async function pool(): Promise<ConnectionPool> {
      const loaded = await redis.dir.load('limit', recordPipeline('limit', '{list: {key: q}}'));
      return new ConnectionPool(planConnection(loaded.config.redis, redis.dir.dir, 'limit', redis.server.url), 2, () => undefined);
    }

    it('two limiters on one key never grant more than the limit between them', async () => {
      const [a, b] = [await pool(), await pool()];
      const key = flowKeys.rateLimit('q', 'limit');
      const parts = { onWait: () => undefined, logger };
      const pace = pacing(200, 1000);
      const started = performance.now();
      const [x, y] = await Promise.all([
        drain(new RedisPermits(pace, key, a, parts), 1000),
        drain(new RedisPermits(pace, key, b, parts), 1000),
      ]);
      const elapsed = (performance.now() - started) / 1000;
      // At most the burst (20) and one permit per 5 ms; far fewer would mean a lost permit.
      assert.ok(x + y <= 20 + Math.ceil(200 * elapsed) + 1, `${x} + ${y} permits in ${elapsed.toFixed(3)} s`);
      assert.ok(x + y >= 150, `${x} + ${y} permits in ${elapsed.toFixed(3)} s`);
      assert.ok(x > 0 && y > 0, 'both got permits');
      await Promise.all([a.close(), b.close()]);
    });

    it('fails closed while Redis is away, and goes on once it is back (the state re-created)', async () => {
      const p = await pool();
      const permits = new RedisPermits(pacing(100, 1000), flowKeys.rateLimit('q2', 'limit'), p, { onWait: () => undefined, logger });
      assert.ok((await permits.take(5)) > 0);
      await redis.server.kill();
      let granted = -1;
      const waiting = permits.take(5).then((n) => (granted = n));
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(granted, -1, 'no permit without Redis');
      await redis.server.start();
      redis.client = redis.server.client();
      await waiting;
      assert.ok(granted > 0);
      await p.close();
    });
  });
});
