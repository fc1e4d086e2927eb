// Retries, permanent errors and dead letters of a custom handler, tested the way a user would:
// one redis-server shared by the file (startRedis), a fresh harness per test.
// In your project: import { PipelineHarness, startRedis } from 'pythia-worker/testing';
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { PipelineHarness, startRedis, type RedisServer } from '../../src/testing/index.ts';

const FILE = new URL('./pipelines/payments.yml', import.meta.url).pathname;

describe('example: testing a payments handler', () => {
  let redis: RedisServer;
  let h: PipelineHarness | undefined;
  before(async () => {
    redis = await startRedis();
  });
  afterEach(() => h?.stop());
  after(() => redis.stop());

  it('a flaky gateway is retried and succeeds on the second attempt', async () => {
    h = await PipelineHarness.start(FILE, { redisUrl: redis.url });
    await h.push([
      { id: 1, amount: 5, card: 'ok' },
      { id: 2, amount: 7, card: 'flaky' },
    ]);
    const done = await h.results<{ id: number; attempt: number }>(2);
    assert.deepEqual(done.map((r) => [r.id, r.attempt]).sort(), [
      [1, 1],
      [2, 2],
    ]);
    assert.equal(await h.pending(), 0);
  });

  it('a declined card is dead-lettered at once; a gateway that stays down after the retries', async () => {
    h = await PipelineHarness.start(FILE, { redisUrl: redis.url });
    await h.push([
      { id: 3, amount: 1, card: 'declined' },
      { id: 4, amount: 2, card: 'gateway-down' },
    ]);
    const dead = await h.deadLetters(2);
    const byId = new Map(dead.map((d) => [(d.body as { id: number }).id, d]));
    assert.equal(byId.get(3)?.reason, 'permanent_error');
    assert.equal(byId.get(3)?.attempts, 1);
    assert.match(byId.get(3)?.error ?? '', /card declined/);
    assert.equal(byId.get(4)?.reason, 'retries_exhausted');
    assert.equal(byId.get(4)?.attempts, 3, 'the first attempt and max_retries: 2');
  });

  it('a harness that waits for results it never gets says why', async () => {
    h = await PipelineHarness.start(FILE, { redisUrl: redis.url });
    await h.push({ id: 5, amount: 1, card: 'declined' });
    await assert.rejects(h.results(1, 1500), /expected 1 results .* got 0; 1 went to the dead letter, first: .*card declined/);
  });
});
