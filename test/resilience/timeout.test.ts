import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { listDeadLetters } from './helpers.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { pipelineYaml } from '../helpers/pipelines.ts';

const quiet = createLogger('silent');
const TIMEOUT = 150;
const HANG = 600;

describe('processing timeout: a handler that ignores its AbortSignal', () => {
  const redis = usePrivateRedis({ exportUrl: true });

  it('counts as failed at the deadline; its late result is discarded, its signal has fired', async () => {
    const name = 'stubborn';
    const reports = path.join(redis.dir.dir, 'reports.jsonl');
    const loaded = await redis.dir.load(
      name,
      pipelineYaml(
        name,
        {},
        `source: {list: {key: "q:${name}", block_timeout_ms: 200}}
handler: {module: "{{support}}/handlers/stubborn.mjs"}
concurrency: 4
resilience: {max_retries: 1, retry_delay_ms: 10, retry_jitter: 0, processing_timeout_ms: ${TIMEOUT}}
output: {list: "${name}:out"}
`,
      ),
    );
    const worker = await Worker.start([loaded], { logger: quiet });
    try {
      const produced = Date.now();
      // 1 hangs on its first attempt only: the retry succeeds. 2 hangs on both attempts: dead letter.
      await redis.client.lpush(
        `q:${name}`,
        JSON.stringify({ id: 1, hang: HANG, hang_attempts: 1, report_to: reports }),
        JSON.stringify({ id: 2, hang: HANG, report_to: reports }),
      );
      await waitFor(`LLEN q:${name}:dead >= 1`, () => redis.client.llen(`q:${name}:dead`), { until: (n) => n >= 1, timeoutMs: 5000 });
      const deadAt = Date.now();
      assert.ok(
        deadAt - produced < HANG - 50,
        `dead-lettered ${deadAt - produced} ms after it was produced: the deadline, not the handler, decides`,
      );
      assert.equal(await redis.client.llen(`${name}:out`), 1, 'the retry of 1 succeeded');
      // Both hung attempts of 2 and the first of 1 finish now, late: nothing of them may be written.
      await waitFor(
        'the hung attempts finished',
        () => existsSync(reports) && readFileSync(reports, 'utf8').trim().split('\n').length >= 3,
        { timeoutMs: 5000 },
      );
      await sleep(100); // an idle period on purpose: a late result written after its report would show in it
    } finally {
      await worker.stop();
    }
    const out = (await redis.client.lrange(`${name}:out`, 0, -1)).map(
      (r) => JSON.parse(r) as { id: number; attempt: number; late: boolean },
    );
    assert.deepEqual(out, [{ id: 1, attempt: 2, late: false }], 'only the on-time result was written');
    const [entry, ...more] = await listDeadLetters(redis.client, `q:${name}:dead`);
    assert.equal(more.length, 0);
    assert.equal(entry?.reason, 'timeout');
    assert.equal(entry?.attempts, 2);
    assert.equal(entry?.error, `handler timed out after ${TIMEOUT} ms`);
    const late = readFileSync(reports, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: number; attempt: number; aborted: boolean; reason: string | null });
    late.sort((a, b) => a.id - b.id || a.attempt - b.attempt);
    assert.deepEqual(late, [
      { id: 1, attempt: 1, aborted: true, reason: 'TimeoutError' },
      { id: 2, attempt: 1, aborted: true, reason: 'TimeoutError' },
      { id: 2, attempt: 2, aborted: true, reason: 'TimeoutError' },
    ]);
  });
  it('holds during a drain: a hung attempt is dead-lettered at its deadline, the drain does not wait for it', async () => {
    const name = 'drain-hang';
    const hang = 5000;
    const loaded = await redis.dir.load(
      name,
      pipelineYaml(
        name,
        {},
        `source: {list: {key: "q:${name}", block_timeout_ms: 200}}
handler: {module: "{{support}}/handlers/stubborn.mjs"}
resilience: {max_retries: 0, processing_timeout_ms: 300}
shutdown: {grace_period_ms: 30000}
output: {list: "${name}:out"}
`,
      ),
    );
    const worker = await Worker.start([loaded], { logger: quiet });
    await redis.client.lpush(`q:${name}`, JSON.stringify({ id: 1, hang }));
    await waitFor('the message is being handled', () => worker.pipelines[0]?.inFlight === 1, { timeoutMs: 5000 });
    const stopAt = Date.now();
    await worker.stop();
    const took = Date.now() - stopAt;
    assert.ok(took < hang / 2, `stop() took ${took} ms: it ended at the attempt's deadline (300 ms), not when the hung handler returned`);
    const [entry, ...more] = await listDeadLetters(redis.client, `q:${name}:dead`);
    assert.equal(more.length, 0);
    assert.equal(entry?.reason, 'timeout');
    assert.equal(await redis.client.llen(`${name}:out`), 0, 'the late result was not written');
  });
});
