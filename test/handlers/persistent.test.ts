import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { createCommandRunner } from '../../src/handlers/command.ts';
import type { PersistentRunner } from '../../src/handlers/persistent.ts';
import type { HandlerContext, Message } from '../../src/handlers/types.ts';
import type { Worker } from '../../src/runtime/worker.ts';
import { startRedis, type RedisServer } from '../../src/testing/redis-server.ts';
import { alive, captureLogger, FIXTURES, listPipeline, NODE, PipelineDir, REFERENCE, runWorker } from './helpers.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

const PY = `["python3", "${path.join(FIXTURES, 'behave_persistent.py')}"]`;
const JS = `["${NODE}", "${path.join(FIXTURES, 'behave-persistent.mjs')}"]`;

function message(id: string, body: unknown, attempt = 1): Message {
  return {
    id,
    body,
    raw: Buffer.from(JSON.stringify(body)),
    fields: {},
    headers: {},
    source: { kind: 'list', key: 'x' },
    attempt,
    deliveryCount: attempt,
    receivedAt: Date.now(),
  };
}

describe('command handler, persistent mode', () => {
  let server: RedisServer;
  let redis: Redis;
  const dir = new PipelineDir();
  const workers: Worker[] = [];
  const runners: PersistentRunner[] = [];

  before(async () => {
    server = await startRedis();
    redis = server.client();
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop(1000)));
    await Promise.all(runners.map((r) => r.close()));
    await server.stop();
    dir.remove();
  });

  async function start(name: string, yaml: string) {
    const capture = captureLogger('warn');
    const worker = await runWorker(server, await dir.load(name, yaml), capture.logger);
    workers.push(worker);
    return { worker, ...capture };
  }

  /** A runner used directly, without Redis, to look at its children and counters. */
  async function runner(name: string, command: string, timeoutMs: number, instances = 1) {
    const capture = captureLogger('warn');
    const loaded = await dir.load(
      name,
      listPipeline(name, name, { timeoutMs, handler: `command: ${command}\nmode: persistent\ninstances: ${instances}` }),
    );
    const r = (await createCommandRunner(loaded.config, loaded.dir, capture.logger)) as PersistentRunner;
    runners.push(r);
    const context = (signal = new AbortController().signal): HandlerContext => ({ signal, logger: capture.logger, pipeline: name });
    return { r, context, ...capture };
  }

  async function outputs(key: string): Promise<Record<string, unknown>[]> {
    return (await redis.lrange(`${key}:out`, 0, -1)).map((s) => JSON.parse(s) as Record<string, unknown>);
  }

  for (const [lang, command] of [
    ['Python', `["python3", "${path.join(REFERENCE, 'persistent_handler.py')}"]`],
    ['Node', `["${NODE}", "${path.join(REFERENCE, 'persistent-handler.mjs')}"]`],
  ] as const) {
    it(`processes a batch through the ${lang} reference handler, two instances`, async () => {
      const key = `ps-ref-${lang}`;
      const { worker } = await start(
        key.toLowerCase(),
        listPipeline(key.toLowerCase(), key, { concurrency: 16, handler: `command: ${command}\nmode: persistent\ninstances: 2` }),
      );
      const n = 300;
      await redis.lpush(key, ...Array.from({ length: n }, (_, i) => JSON.stringify({ n: i })));
      await waitFor(`LLEN ${key}:out === ${n}`, () => redis.llen(`${key}:out`), { until: (length) => length === n });
      const results = await outputs(key);
      assert.deepEqual(
        results.map((r) => (r.body as { n: number }).n).sort((a, b) => a - b),
        Array.from({ length: n }, (_, i) => i),
      );
      assert.ok(results.every((r) => r.handled_by === lang.toLowerCase() && r.attempt === 1));
      await worker.stop(2000);
    });
  }

  for (const [lang, command] of [
    ['Python', PY],
    ['Node', JS],
  ] as const) {
    it(`a ${lang} child that crashes mid-batch loses nothing; it is restarted`, async () => {
      const key = `ps-crash-${lang}`;
      const { worker } = await start(
        key.toLowerCase(),
        listPipeline(key.toLowerCase(), key, { concurrency: 16, handler: `command: ${command}\nmode: persistent\ninstances: 2` }),
      );
      const n = 200;
      // Every 25th message kills its child on its first attempt (os._exit / process.exit), with others in flight.
      await redis.lpush(key, ...Array.from({ length: n }, (_, i) => JSON.stringify({ n: i, crash_first: i % 25 === 10, sleep: 0.001 })));
      await waitFor('every message processed', async () => (await redis.llen(`${key}:out`)) === n);
      const results = await outputs(key);
      assert.deepEqual(
        results.map((r) => r.n).sort((a, b) => (a as number) - (b as number)),
        Array.from({ length: n }, (_, i) => i),
        'each exactly once',
      );
      assert.ok(new Set(results.map((r) => r.pid)).size > 2, 'crashed children were replaced by new processes');
      assert.ok((results.find((r) => r.n === 10)?.attempt as number) >= 2, 'its first attempt crashed');
      assert.equal(await redis.llen(`${key}:dead`), 0);
      await worker.stop(2000);
    });
  }

  it('failures reported by the handler: retryable ones are retried, retryable:false dead-letters', async () => {
    const key = 'ps-fail';
    const { worker } = await start(key, listPipeline(key, key, { handler: `command: ${PY}\nmode: persistent` }));
    await redis.lpush(
      key,
      JSON.stringify({ n: 1, fail_first: true }),
      JSON.stringify({ n: 2, permanent: true }),
      JSON.stringify({ n: 3, none: true }),
      JSON.stringify({ n: 4 }),
    );
    await waitFor(
      `2 results, 1 dead letter and an empty ${key}`,
      async () => ({ out: await redis.llen(`${key}:out`), dead: await redis.llen(`${key}:dead`), queue: await redis.llen(key) }),
      { until: (n) => n.out === 2 && n.dead === 1 && n.queue === 0 },
    );
    const byN = new Map((await outputs(key)).map((r) => [r.n, r]));
    assert.equal(byN.get(1)?.attempt, 2);
    assert.equal(byN.get(4)?.attempt, 1);
    const dead = JSON.parse((await redis.lindex(`${key}:dead`, 0)) as string) as { reason: string; attempts: number; error: string };
    assert.equal(dead.reason, 'permanent_error');
    assert.equal(dead.attempts, 1);
    assert.match(dead.error, /permanent by request/);
    await worker.stop(2000);
  });

  it('garbage on stdout (non-JSON lines, unknown ids) is logged and counted, never fatal', async () => {
    for (const command of [PY, JS]) {
      const { r, context, records } = await runner('ps-garbage', command, 5000);
      const pid = r.pids[0];
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => r.invoke(message(`m${i}`, { n: i, garbage: i % 2 === 0 }), context())),
      );
      assert.deepEqual(
        results.map((x) => (x as { n: number }).n),
        Array.from({ length: 10 }, (_, i) => i),
      );
      assert.ok(r.stats.invalidLines >= 5, `invalid lines counted: ${r.stats.invalidLines}`);
      assert.equal(r.stats.unknownIds, 5);
      assert.deepEqual(r.pids, [pid], 'the child was not restarted');
      const warnings = records().filter((x) => x.level === 'warn');
      assert.ok(warnings.some((x) => String(x.msg).includes('not a JSON reply') && x.line === 'this is not json'));
      assert.ok(warnings.some((x) => String(x.msg).includes('no request in flight') && x.messageId === 'no-such-id'));
      await r.close();
      assert.deepEqual(r.pids, []);
      await waitFor('close() ended the child', () => !alive(pid as number), { timeoutMs: 3000 });
    }
  });

  it('a timed-out request is rejected; the shared child is killed only when stuck, then restarted', async () => {
    // Python handles one request at a time: a hanging request blocks the child, which is stuck.
    const { r, context } = await runner('ps-stuck', PY, 300);
    const pid = r.pids[0] as number;
    const controller = new AbortController();
    const hung = r.invoke(message('hang', { hang: true }), context(controller.signal));
    const queued = r.invoke(message('behind', { n: 7 }), context());
    await sleep(100); // the request reaches the child and hangs there (no signal says so): the timeout comes after
    controller.abort(new Error('timed out'));
    await assert.rejects(hung, /timed out/);
    assert.ok(alive(pid), 'not killed on the timeout itself');
    // No reply for stuckAfterMs (the processing timeout) after the timeout: killed; what it held fails (retryable).
    await assert.rejects(queued, (e: { retryable?: boolean; message: string }) => e.retryable === true && /exited|killed/.test(e.message));
    await waitFor('the stuck child is gone', () => !alive(pid), { timeoutMs: 5000 });
    assert.equal(r.stats.stuckKills, 1);
    await waitFor('a new child replaced it', () => r.pids.length === 1 && r.pids[0] !== pid, { timeoutMs: 5000 });
    assert.deepEqual(await r.invoke(message('after', { n: 8 }), context()), { n: 8, pid: r.pids[0], attempt: 1, lang: 'python' });
  });

  it('in a pipeline, a request stuck in a single-threaded child times out, the child is replaced, the retry succeeds', async () => {
    const key = 'ps-stuck-pipeline';
    const { worker, records } = await start(key, listPipeline(key, key, { timeoutMs: 1000, handler: `command: ${PY}\nmode: persistent` }));
    await redis.lpush(
      key,
      JSON.stringify({ n: 0, hang_first: true }),
      ...Array.from({ length: 9 }, (_, i) => JSON.stringify({ n: i + 1 })),
    );
    await waitFor('every message processed', async () => (await redis.llen(`${key}:out`)) === 10, { timeoutMs: 15_000 });
    const results = await outputs(key);
    assert.deepEqual(
      results.map((r) => r.n).sort((a, b) => (a as number) - (b as number)),
      Array.from({ length: 10 }, (_, i) => i),
    );
    assert.ok((results.find((r) => r.n === 0)?.attempt as number) >= 2);
    assert.ok(
      records().some((r) => String(r.msg).includes('stuck')),
      'the stuck child was killed',
    );
    assert.equal(await redis.llen(`${key}:dead`), 0);
    await worker.stop(2000);
  });

  it('a child that keeps answering other requests is not stuck: only the timed-out request fails', async () => {
    // Node handles requests concurrently: one never settles, the others are answered.
    const { r, context } = await runner('ps-slow', JS, 200);
    await r.invoke(message('warm-up', { n: -1 }), context()); // started (under load, a start can take longer than 200 ms)
    const pid = r.pids[0] as number;
    const controller = new AbortController();
    const hung = r.invoke(message('hang', { hang: true }), context(controller.signal));
    setTimeout(() => controller.abort(new Error('timed out')), 50);
    await assert.rejects(hung, /timed out/);
    for (let i = 0; i < 8; i++) {
      await r.invoke(message(`m${i}`, { n: i }), context());
      await sleep(50); // spread over more than stuckAfterMs (200): time passing while the child answers is what is tested
    }
    assert.deepEqual(r.pids, [pid]);
    assert.equal(r.stats.stuckKills, 0);
  });

  it('requests wait for a restarting child instead of failing', async () => {
    const { r, context } = await runner('ps-wait', JS, 5000);
    await assert.rejects(r.invoke(message('boom', { n: 0, crash_first: true }), context()), /exited with code 1/);
    assert.deepEqual(r.pids, []);
    // Sent while no child is running: it goes to the restarted one.
    assert.equal(((await r.invoke(message('next', { n: 1 }), context())) as { n: number }).n, 1);
    assert.equal(r.stats.restarts, 1);
  });
});
