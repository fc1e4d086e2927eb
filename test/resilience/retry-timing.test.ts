import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { waitFor } from '../helpers/wait.ts';
import { pipelineYaml } from '../helpers/pipelines.ts';

const quiet = createLogger('silent');

describe('retries with real timers', () => {
  const redis = usePrivateRedis({ exportUrl: true });

  for (const kind of ['list', 'stream'] as const) {
    it(`${kind}: attempt n+1 starts retry_delay_ms × retry_backoff^(n−1) after attempt n fails; the handler sees attempts 1..n`, async () => {
      const DELAY = 100;
      const BACKOFF = 2;
      const SUCCEED_ON = 5; // fails 4 times: waits of 100, 200, 400, 800 ms
      const name = `timing-${kind}`;
      // block_timeout_ms is long on purpose: a retry must not wait for an idle blocking fetch to return.
      const source =
        kind === 'list'
          ? `source: {list: {key: "q:${name}", block_timeout_ms: 5000}}`
          : `source: {stream: {key: "s:${name}", consumer_group: g, start_id: "0", block_timeout_ms: 5000}}`;
      const loaded = await redis.dir.load(
        name,
        pipelineYaml(
          name,
          {},
          `${source}
handler: {module: "{{support}}/handlers/attempts.mjs"}
resilience: {max_retries: 5, retry_delay_ms: ${DELAY}, retry_backoff: ${BACKOFF}, retry_jitter: 0, retry_max_delay_ms: 60000}
output: {list: "${name}:out"}
`,
        ),
      );
      const worker = await Worker.start([loaded], { logger: quiet });
      try {
        // The first attempt must come from inside an idle blocking fetch (see block_timeout_ms above).
        await waitFor('the worker blocked in an idle fetch', async () => (await redis.client.client('LIST')) as string, {
          until: (list) => /\bflags=\w*b\w*\b/.test(list),
        });
        const body = JSON.stringify({ id: 1, succeed_on: SUCCEED_ON });
        if (kind === 'list') await redis.client.lpush(`q:${name}`, body);
        else await redis.client.xadd(`s:${name}`, '*', 'body', body);
        await waitFor('the message succeeded in the end', async () => (await redis.client.llen(`${name}:out`)) >= 1, { timeoutMs: 5000 });
      } finally {
        await worker.stop();
      }
      const result = JSON.parse((await redis.client.lindex(`${name}:out`, 0)) as string) as { calls: { attempt: number; at: number }[] };
      assert.deepEqual(
        result.calls.map((c) => c.attempt),
        [1, 2, 3, 4, 5],
      );
      const gaps = result.calls.slice(1).map((c, i) => c.at - (result.calls[i] as { at: number }).at);
      const expected = gaps.map((_, i) => DELAY * BACKOFF ** i);
      for (const [i, gap] of gaps.entries()) {
        const want = expected[i] as number;
        // Timers never fire early; late by a scheduling hiccup at most.
        assert.ok(gap >= want - 2 && gap <= want + 80, `gap ${i + 1}: ${gap} ms, expected ${want} ms (all gaps: ${gaps.join(', ')})`);
      }
    });
  }
});
