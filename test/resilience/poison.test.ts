import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { listDeadLetters } from './helpers.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { pipelineYaml } from '../helpers/pipelines.ts';

const quiet = createLogger('silent');
const GOOD = 10_000;
const CHUNK = 100;
const EVERY_MS = 50; // 10,000 messages over about 5 s: well within what the worker keeps up with
const RETRIES = 3;
const DELAY = 200;
const POISON_RETRY_MS = DELAY * (1 + 2 + 4); // 200 + 400 + 800 = 1400 ms of waiting between its attempts

describe('a poison message among 10,000 good ones', () => {
  const redis = usePrivateRedis({ exportUrl: true });

  it('delays none of them by more than its own retries take', async () => {
    const name = 'poison';
    const queue = `q:${name}`;
    // A worker that waited out the retry delays before fetching more (head-of-line blocking) would hold
    // every message behind the poison for the full 1.4 s. (The next test covers the slot it might hold.)
    const loaded = await redis.dir.load(
      name,
      pipelineYaml(
        name,
        {},
        `source: {list: {key: "${queue}", batch_size: 100, block_timeout_ms: 1000}}
handler: {module: "{{support}}/handlers/latency.mjs"}
concurrency: 32
resilience: {max_retries: ${RETRIES}, retry_delay_ms: ${DELAY}, retry_backoff: 2, retry_jitter: 0}
output: {list: "${name}:out"}
`,
      ),
    );
    const worker = await Worker.start([loaded], { logger: quiet });
    let poisonAt = 0;
    try {
      // Produced at a steady rate the worker can keep up with, so latency measures waiting, not a backlog.
      for (let sent = 0; sent < GOOD; sent += CHUNK) {
        const now = Date.now();
        const bodies = Array.from({ length: CHUNK }, (_, i) => JSON.stringify({ id: sent + i + 1, produced_at: now }));
        if (sent === 10 * CHUNK) {
          poisonAt = now;
          bodies.splice(CHUNK / 2, 0, JSON.stringify({ id: 0, fail: 'always', produced_at: now }));
        }
        await redis.client.lpush(queue, ...bodies);
        await sleep(EVERY_MS);
      }
      await waitFor(
        'all processed, the poison dead-lettered',
        async () => (await redis.client.llen(`${name}:out`)) >= GOOD && (await redis.client.llen(`${queue}:dead`)) >= 1,
        { timeoutMs: 20_000 },
      );
    } finally {
      await worker.stop();
    }
    const results = (await redis.client.lrange(`${name}:out`, 0, -1)).map(
      (r) => JSON.parse(r) as { id: number; latency: number; attempt: number },
    );
    assert.equal(results.length, GOOD);
    assert.equal(new Set(results.map((r) => r.id)).size, GOOD);
    assert.ok(results.every((r) => r.attempt === 1));
    const latencies = results.map((r) => r.latency).sort((a, b) => a - b);
    const max = latencies[latencies.length - 1] as number;
    const p99 = latencies[Math.floor(latencies.length * 0.99)] as number;
    if (process.env.PYTHIA_SHOW_LATENCY)
      process.stdout.write(`good messages: p50 ${latencies[GOOD / 2]} ms, p99 ${p99} ms, max ${max} ms\n`);
    assert.ok(max < POISON_RETRY_MS, `worst latency ${max} ms (p99 ${p99} ms) is not below the poison's ${POISON_RETRY_MS} ms of retries`);
    // In particular the messages produced while the poison waited for its retries.
    const during = results.filter((r) => r.id > 10 * CHUNK && r.id <= 10 * CHUNK + (POISON_RETRY_MS / EVERY_MS) * CHUNK);
    assert.equal(during.length, (POISON_RETRY_MS / EVERY_MS) * CHUNK);
    assert.ok(during.every((r) => r.latency < POISON_RETRY_MS));
    const [entry, ...more] = await listDeadLetters(redis.client, `${queue}:dead`);
    assert.equal(more.length, 0);
    assert.equal(entry?.reason, 'retries_exhausted');
    assert.equal(entry?.attempts, RETRIES + 1);
    const span = Date.parse(entry?.last_failure_at ?? '') - Date.parse(entry?.first_failure_at ?? '');
    assert.ok(span >= POISON_RETRY_MS - 5 && span < POISON_RETRY_MS + 300, `the poison's retries took ${span} ms`);
    assert.ok(Date.parse(entry?.first_failure_at ?? '') - poisonAt < 500);
  });

  it('a message waiting for its retry holds no slot: at concurrency 1 the others flow meanwhile', async () => {
    const name = 'one-slot';
    const queue = `q:${name}`;
    const loaded = await redis.dir.load(
      name,
      pipelineYaml(
        name,
        {},
        `source: {list: {key: "${queue}", batch_size: 10, block_timeout_ms: 1000}}
handler: {module: "{{support}}/handlers/latency.mjs"}
concurrency: 1
resilience: {max_retries: 1, retry_delay_ms: 1500, retry_jitter: 0}
output: {list: "${name}:out"}
`,
      ),
    );
    const produced = Date.now();
    const bodies = [
      JSON.stringify({ id: 0, fail: 'always', produced_at: produced }),
      ...Array.from({ length: 50 }, (_, i) => JSON.stringify({ id: i + 1, produced_at: produced })),
    ];
    await redis.client.lpush(queue, ...bodies); // the poison is first in line
    const worker = await Worker.start([loaded], { logger: quiet });
    try {
      await waitFor(
        '50 results and the poison dead-lettered',
        async () => ({ out: await redis.client.llen(`${name}:out`), dead: await redis.client.llen(`${queue}:dead`) }),
        { until: (n) => n.out >= 50 && n.dead >= 1, timeoutMs: 10_000 },
      );
    } finally {
      await worker.stop();
    }
    const [entry] = await listDeadLetters(redis.client, `${queue}:dead`);
    const firstFailure = Date.parse(entry?.first_failure_at ?? '');
    const lastFailure = Date.parse(entry?.last_failure_at ?? '');
    assert.ok(lastFailure - firstFailure >= 1500 - 5);
    const doneAt = (await redis.client.lrange(`${name}:out`, 0, -1)).map((r) => produced + (JSON.parse(r) as { latency: number }).latency);
    // Had the poison kept the only slot while it waited, nothing could have finished before its retry.
    const late = doneAt.filter((t) => t >= lastFailure);
    assert.equal(late.length, 0, `${late.length} of 50 finished only after the poison's retry`);
  });
});
