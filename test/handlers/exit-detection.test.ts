import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { exited, spawnWorker } from '../helpers/pipelines.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { waitFor } from '../helpers/wait.ts';
import { alive, captureLogger, FIXTURES, listPipeline, NODE, runWorker } from './helpers.ts';

// A command handler that starts a helper in its own session (setsid, as docs/command-handlers.md
// suggests for a helper that must outlive it) hands that helper its stdout and stderr: the pipes stay
// open after the handler exits. The worker must go by the process's exit, not by its pipes closing.

describe('command handlers: exit is detected by the process, not by its pipes', () => {
  const redis = usePrivateRedis();
  const helperPids = () => path.join(redis.dir.dir, 'helper-pids');
  after(() => {
    let pids: string[] = [];
    try {
      pids = readFileSync(helperPids(), 'utf8').split('\n').filter(Boolean);
    } catch {
      // No helper was started.
    }
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });

  it('per-message: a handler that exits 0 while its setsid helper holds the pipes succeeds (not a timeout)', async () => {
    writeFileSync(helperPids(), '');
    const key = 'setsid-per-message';
    const yaml = listPipeline(key, key, {
      handler: `command: ["${path.join(FIXTURES, 'setsid-helper.sh')}"]\nenv: {HELPER_PIDS: "${helperPids()}"}`,
      timeoutMs: 4000,
      maxRetries: 0,
    });
    const { logger } = captureLogger('warn');
    const worker = await runWorker(redis.server, await redis.dir.load(key, yaml), logger);
    try {
      await redis.client.lpush(key, ...[1, 2, 3].map((n) => JSON.stringify({ n })));
      // Today's code waits for the pipes: each message ends as a `timeout` dead letter after 4 s.
      await waitFor(
        '3 results or dead letters',
        async () => (await redis.client.llen(`${key}:out`)) + (await redis.client.llen(`${key}:dead`)),
        { until: (n) => n >= 3, timeoutMs: 15_000 },
      );
      const dead = await redis.client.lrange(`${key}:dead`, 0, -1);
      assert.deepEqual(
        dead.map((d) => (JSON.parse(d) as { reason: string }).reason),
        [],
        'no message was dead-lettered',
      );
      assert.equal(await redis.client.llen(`${key}:out`), 3);
      // Each helper writes its pid itself, in the background: the handler may have exited (and its result
      // been written) before the last helper got to it.
      const readHelpers = () => readFileSync(helperPids(), 'utf8').split('\n').filter(Boolean).map(Number);
      const helpers = await waitFor('3 helper pids', readHelpers, { until: (pids) => pids.length >= 3, timeoutMs: 5000 });
      assert.equal(helpers.length, 3);
      assert.ok(helpers.every(alive), 'the helpers (own sessions) are still running: the handler left its pipes open');
    } finally {
      await worker.stop(2000);
    }
  });

  it('persistent: a handler that dies while its setsid helper holds the pipes is restarted, and the message retried', async () => {
    writeFileSync(helperPids(), '');
    const key = 'setsid-persistent';
    const yaml = listPipeline(key, key, {
      handler: `command: ["${NODE}", "${path.join(FIXTURES, 'setsid-persistent.mjs')}"]\nmode: persistent\nenv: {HELPER_PIDS: "${helperPids()}"}`,
      timeoutMs: 4000,
      maxRetries: 2,
    });
    const { logger } = captureLogger('warn');
    const worker = await runWorker(redis.server, await redis.dir.load(key, yaml), logger);
    try {
      await redis.client.lpush(key, JSON.stringify({ n: 1, crash_first: true }), JSON.stringify({ n: 2 }));
      // Today's code never sees the exit: no restart, the retry waits on a dead child until it times out.
      await waitFor(
        '2 results or dead letters',
        async () => (await redis.client.llen(`${key}:out`)) + (await redis.client.llen(`${key}:dead`)),
        { until: (n) => n >= 2, timeoutMs: 15_000 },
      );
      assert.deepEqual(await redis.client.lrange(`${key}:dead`, 0, -1), [], 'no message was dead-lettered');
      const results = (await redis.client.lrange(`${key}:out`, 0, -1)).map((r) => JSON.parse(r) as { n: number; attempt: number });
      assert.deepEqual(results.map((r) => r.n).sort(), [1, 2]);
      assert.equal(results.find((r) => r.n === 1)?.attempt, 2, 'the crashed message was retried on a restarted handler');
    } finally {
      await worker.stop(2000);
    }
  });

  it("persistent: SIGTERM stops `pythia run` although the handler's setsid helper holds its pipes", async () => {
    writeFileSync(helperPids(), '');
    const key = 'setsid-shutdown';
    const file = path.join(redis.dir.dir, `${key}.yml`);
    writeFileSync(
      file,
      `name: ${key}
redis: {url: "${redis.server.url}"}
source: {list: {key: "${key}", block_timeout_ms: 100}}
handler: {command: ["${NODE}", "${path.join(FIXTURES, 'setsid-persistent.mjs')}"], mode: persistent, env: {HELPER_PIDS: "${helperPids()}"}}
output: {list: "${key}:out"}
shutdown: {grace_period_ms: 3000}
metrics: {enabled: false}
`,
    );
    const child = spawnWorker([file]);
    try {
      await redis.client.lpush(key, JSON.stringify({ n: 1 }));
      await waitFor(
        () => `the first result (worker output: ${child.output()})`,
        () => redis.client.llen(`${key}:out`),
        { until: (n) => n >= 1 },
      );
      child.kill('SIGTERM');
      // Today's code waits for the handler's pipes to close, which the helper never does.
      const code = await Promise.race([exited(child), new Promise((r) => setTimeout(() => r('still running 15 s after SIGTERM'), 15_000))]);
      assert.equal(code, 0, child.output());
    } finally {
      child.kill('SIGKILL');
    }
  });
});
