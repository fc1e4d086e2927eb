import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { Worker } from '../../src/runtime/worker.ts';
import { startRedis, type RedisServer } from '../../src/testing/redis-server.ts';
import { alive, captureLogger, FIXTURES, listPipeline, NODE, PipelineDir, REFERENCE, runWorker } from './helpers.ts';
import { waitFor } from '../helpers/wait.ts';

const PY_FIXTURE = path.join(FIXTURES, 'behave_per_message.py');

describe('command handler, per-message mode', () => {
  let server: RedisServer;
  let redis: Redis;
  const dir = new PipelineDir();
  const workers: Worker[] = [];

  before(async () => {
    server = await startRedis();
    redis = server.client();
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop(1000)));
    await server.stop();
    dir.remove();
  });

  async function start(name: string, yaml: string, level: 'info' | 'warn' = 'warn') {
    const capture = captureLogger(level);
    const worker = await runWorker(server, await dir.load(name, yaml), capture.logger);
    workers.push(worker);
    return { worker, ...capture };
  }

  async function outputs(key: string): Promise<Record<string, unknown>[]> {
    return (await redis.lrange(`${key}:out`, 0, -1)).map((s) => JSON.parse(s) as Record<string, unknown>);
  }

  it('runs the Python reference handler once per message; results go to the output', async () => {
    const key = 'pm-py';
    const { worker } = await start(
      'pm-py',
      listPipeline('pm-py', key, {
        handler: `command: ["python3", "${path.join(REFERENCE, 'per_message_handler.py')}"]\npermanent_exit_codes: [3]`,
      }),
    );
    const n = 24;
    await redis.lpush(key, ...Array.from({ length: n }, (_, i) => JSON.stringify({ n: i })));
    // 24 Python start-ups, 8 at a time: seconds on a loaded 2-core machine (a failure bound, not a speed check).
    await waitFor('every message has a result', async () => (await redis.llen(`${key}:out`)) === n, { timeoutMs: 90_000 });
    const results = await outputs(key);
    assert.deepEqual(
      results.map((r) => (r.body as { n: number }).n).sort((a, b) => a - b),
      Array.from({ length: n }, (_, i) => i),
    );
    assert.ok(results.every((r) => r.handled_by === 'python-per-message' && r.attempt === 1 && typeof r.id === 'string'));
    // The reference handler's exit 3 is permanent: dead letter after one attempt.
    await redis.lpush(key, JSON.stringify({ invalid: true }));
    await waitFor(`LLEN ${key}:dead === 1`, () => redis.llen(`${key}:dead`), { until: (n) => n === 1 });
    const dead = JSON.parse((await redis.lindex(`${key}:dead`, 0)) as string) as { reason: string; attempts: number; error: string };
    assert.equal(dead.reason, 'permanent_error');
    assert.equal(dead.attempts, 1);
    assert.match(dead.error, /exited with code 3/);
    assert.match(dead.error, /the order is invalid/, 'stderr is in the error');
    await worker.stop(1000);
  });

  it('runs a Node handler once per message, with env and cwd from the pipeline', async () => {
    const key = 'pm-node';
    const { worker } = await start(
      'pm-node',
      listPipeline('pm-node', key, { handler: `command: ["${NODE}", "${path.join(FIXTURES, 'behave-per-message.mjs')}"]` }),
    );
    const n = 16;
    await redis.lpush(key, ...Array.from({ length: n }, (_, i) => JSON.stringify({ n: i })));
    await waitFor(`LLEN ${key}:out === ${n}`, () => redis.llen(`${key}:out`), { until: (length) => length === n });
    const results = await outputs(key);
    assert.deepEqual(
      results.map((r) => r.n).sort((a, b) => (a as number) - (b as number)),
      Array.from({ length: n }, (_, i) => i),
    );
    assert.ok(results.every((r) => r.lang === 'node'));
    await worker.stop(1000);

    const key2 = 'pm-env';
    const { worker: w2 } = await start(
      'pm-env',
      listPipeline('pm-env', key2, { handler: `command: ["python3", "${PY_FIXTURE}"]\nenv: {FIXTURE_ENV: "from-yaml"}\ncwd: ${FIXTURES}` }),
    );
    await redis.lpush(key2, JSON.stringify({ n: 1 }));
    await waitFor(`LLEN ${key2}:out === 1`, () => redis.llen(`${key2}:out`), { until: (n) => n === 1 });
    const [result] = await outputs(key2);
    assert.equal(result?.env, 'from-yaml');
    assert.equal(path.resolve(result?.cwd as string), path.resolve(FIXTURES));
    await w2.stop(1000);
  });

  it('logs stderr lines with the message id; non-zero exits are retried; stdout text and empty stdout', async () => {
    const key = 'pm-exits';
    const { worker, records } = await start(
      'pm-exits',
      listPipeline('pm-exits', key, { handler: `command: ["python3", "${PY_FIXTURE}"]\npermanent_exit_codes: [3, 42]` }),
      'info',
    );
    await redis.lpush(
      key,
      JSON.stringify({ n: 1, stderr: true }),
      JSON.stringify({ n: 2, exit_first: 7 }),
      JSON.stringify({ n: 3, raw: true }),
      JSON.stringify({ n: 4, empty: true }),
      JSON.stringify({ n: 5, exit: 42 }),
    );
    await waitFor(
      `3 results, 1 dead letter and an empty ${key}`,
      async () => ({ out: await redis.llen(`${key}:out`), dead: await redis.llen(`${key}:dead`), queue: await redis.llen(key) }),
      { until: (n) => n.out === 3 && n.dead === 1 && n.queue === 0 },
    );
    // Everything was acknowledged, including the message with no result.
    await waitFor(
      `an empty processing list for ${key}`,
      async () =>
        (await redis.keys(`{${key}}:processing:*`)).length === 0 ||
        (await redis.hlen((await redis.keys(`{${key}}:processing:*`))[0] as string)) === 0,
    );
    const raw = await redis.lrange(`${key}:out`, 0, -1);
    assert.ok(raw.includes('plain text, not JSON'), 'non-JSON stdout is passed on as the string printed');
    const retried = raw
      .map((s) => (s.startsWith('{') ? (JSON.parse(s) as { n: number; attempt: number }) : undefined))
      .find((r) => r?.n === 2);
    assert.equal(retried?.attempt, 2, 'exit 7 is retryable: the second attempt succeeded');
    const dead = JSON.parse((await redis.lindex(`${key}:dead`, 0)) as string) as { reason: string; attempts: number; error: string };
    assert.equal(dead.reason, 'permanent_error');
    assert.equal(dead.attempts, 1);
    assert.match(dead.error, /exited with code 42/);
    const logs = records();
    const note = logs.find((r) => r.msg === 'note from 1');
    assert.ok(note, 'stderr line logged');
    assert.equal(typeof note.messageId, 'string');
    assert.equal(note.stream, 'stderr');
    assert.ok(logs.some((r) => r.msg === 'second line' && r.messageId === note.messageId));
    await worker.stop(1000);
  });

  it('sends text bodies as strings and binary bodies as base64', async () => {
    const key = 'pm-bin';
    const { worker } = await start(
      'pm-bin',
      listPipeline('pm-bin', key, { format: 'binary', handler: `command: ["python3", "${PY_FIXTURE}"]` }),
    );
    await redis.lpush(key, Buffer.from([0xff, 0x00, 0x01, 0x80]));
    await waitFor(`LLEN ${key}:out === 1`, () => redis.llen(`${key}:out`), { until: (n) => n === 1 });
    assert.deepEqual(await outputs(key), [{ len: 4, first: 255 }]);
    await worker.stop(1000);
    const key2 = 'pm-text';
    const { worker: w2 } = await start(
      'pm-text',
      listPipeline('pm-text', key2, { format: 'text', handler: `command: ["python3", "${PY_FIXTURE}"]` }),
    );
    await redis.lpush(key2, 'héllo');
    await waitFor(`LLEN ${key2}:out === 1`, () => redis.llen(`${key2}:out`), { until: (n) => n === 1 });
    assert.deepEqual(await outputs(key2), [{ text: 'HÉLLO' }]);
    await w2.stop(1000);
  });

  it('a timeout kills the whole process tree and the message is dead-lettered', async () => {
    const key = 'pm-timeout';
    const pidfile = dir.file('tree.pids');
    // The timeout must leave Python time to start and write the pidfile even on a loaded CI machine
    // (700 ms did not once: the handler was killed before it wrote it).
    const { worker } = await start(
      'pm-timeout',
      listPipeline('pm-timeout', key, { timeoutMs: 3000, maxRetries: 0, handler: `command: ["python3", "${PY_FIXTURE}"]` }),
    );
    await redis.lpush(key, JSON.stringify({ tree: pidfile }));
    await waitFor('the handler started its grandchild', () => existsSync(pidfile), { timeoutMs: 15_000 });
    const [childPid, grandchildPid] = readFileSync(pidfile, 'utf8').split(' ').map(Number) as [number, number];
    assert.ok(alive(childPid) && alive(grandchildPid));
    await waitFor(`LLEN ${key}:dead === 1`, () => redis.llen(`${key}:dead`), { until: (n) => n === 1, timeoutMs: 10_000 });
    const dead = JSON.parse((await redis.lindex(`${key}:dead`, 0)) as string) as { reason: string };
    assert.equal(dead.reason, 'timeout');
    await waitFor('the handler and its grandchild are gone', () => !alive(childPid) && !alive(grandchildPid), { timeoutMs: 5000 });
    await worker.stop(1000);
  });
});
