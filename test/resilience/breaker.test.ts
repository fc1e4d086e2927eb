import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BreakerState } from '../../src/resilience/circuit-breaker.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { NO_OBSERVER } from '../../src/metrics/pipeline-observer.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { pipelineYaml } from '../helpers/pipelines.ts';

const quiet = createLogger('silent');
const RESET = 700;

describe('circuit breaker against a real queue', () => {
  const redis = usePrivateRedis({ exportUrl: true });

  it('opens after failure_threshold failures and stops consuming; half-opens; a failed trial reopens it; a good one closes it', async () => {
    const name = 'breaker';
    const queue = `q:${name}`;
    const loaded = await redis.dir.load(
      name,
      pipelineYaml(
        name,
        {},
        `source: {list: {key: "${queue}", batch_size: 1, block_timeout_ms: 200}}
handler: {module: "{{support}}/handlers/record.mjs"}
concurrency: 1
resilience:
  max_retries: 0
  circuit_breaker: {enabled: true, failure_threshold: 3, reset_timeout_ms: ${RESET}, half_open_max_calls: 1}
output: {list: "${name}:out"}
`,
      ),
    );
    // FIFO: three failures open it, the fourth is the failed trial, then five good ones.
    const bodies = [1, 2, 3, 4]
      .map((id) => JSON.stringify({ id, fail: 'always' }))
      .concat([5, 6, 7, 8, 9].map((id) => JSON.stringify({ id })));
    await redis.client.lpush(queue, ...bodies);
    const changes: { state: BreakerState; at: number }[] = [];
    const worker = await Worker.start([loaded], {
      logger: quiet,
      observerFor: () => ({ ...NO_OBSERVER, breaker: (state) => changes.push({ state, at: Date.now() }) }),
    });
    const pipeline = worker.pipelines[0];
    try {
      await waitFor('the breaker opened', () => changes.some((c) => c.state === 'open'), { timeoutMs: 5000 });
      const openedAt = (changes[0] as { at: number }).at;
      // While open: nothing is consumed. Sample the queue every 50 ms until just before the reset timeout (the
      // sleeps below pace that sampling of an idle period, which is what is under test).
      await waitFor(`LLEN ${queue}:dead >= 3`, () => redis.client.llen(`${queue}:dead`), { until: (n) => n >= 3, timeoutMs: 1000 });
      const lengths: number[] = [];
      while (Date.now() < openedAt + RESET - 100) {
        lengths.push(await redis.client.llen(queue));
        await sleep(50);
      }
      assert.ok(lengths.length >= 5);
      assert.deepEqual(new Set(lengths), new Set([6]), `queue length while open: ${lengths.join(',')}`);
      assert.equal(await redis.client.llen(`${name}:out`), 0);
      assert.equal(pipeline?.breakerState, 'open');

      // Half-open: one trial (message 4) fails, so it opens again and consumption stops again.
      await waitFor('reopened after the failed trial', () => changes.filter((c) => c.state === 'open').length >= 2, {
        timeoutMs: RESET + 2000,
      });
      const [, halfOpen, reopened] = changes;
      assert.equal(halfOpen?.state, 'half-open');
      assert.ok((halfOpen?.at ?? 0) - openedAt >= RESET - 5, `half-opened ${(halfOpen?.at ?? 0) - openedAt} ms after opening`);
      const second: number[] = [];
      while (Date.now() < (reopened?.at ?? 0) + RESET - 100) {
        second.push(await redis.client.llen(queue));
        await sleep(50);
      }
      assert.deepEqual(new Set(second), new Set([5]), `queue length while open again: ${second.join(',')}`);

      // Half-open again: message 5 succeeds, the breaker closes, the rest flows.
      await waitFor('the good messages were processed after it closed', async () => (await redis.client.llen(`${name}:out`)) >= 5, {
        timeoutMs: 5000,
      });
      assert.equal(await redis.client.llen(queue), 0);
    } finally {
      await worker.stop();
    }
    assert.deepEqual(
      changes.map((c) => c.state),
      ['open', 'half-open', 'open', 'half-open', 'closed'],
    );
    const closedAfter = (changes[4]?.at ?? 0) - (changes[2]?.at ?? 0);
    assert.ok(closedAfter >= RESET - 5, `closed ${closedAfter} ms after reopening`);
    const order = (await redis.client.lrange(`${name}:out`, 0, -1)).map((r) => (JSON.parse(r) as { id: number }).id).reverse();
    assert.deepEqual(order, [5, 6, 7, 8, 9]);
    assert.equal(await redis.client.llen(`${queue}:dead`), 4, 'every failure was dead-lettered, none dropped');
  });
});
