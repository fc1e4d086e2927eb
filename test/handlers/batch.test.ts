// handler.batch end to end, against a private redis-server: a module batch handler (through the
// PipelineHarness that handler authors use) and persistent command batch handlers (Node and Python
// reference loops, and hostile replies).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { Worker } from '../../src/runtime/worker.ts';
import { PipelineHarness } from '../../src/testing/index.ts';
import { startRedis, type RedisServer } from '../../src/testing/redis-server.ts';
import { calls } from '../support/handlers/batch.mjs';
import { SUPPORT } from '../helpers/pipelines.ts';
import { waitFor } from '../helpers/wait.ts';
import { captureLogger, FIXTURES, listPipeline, NODE, PipelineDir, REFERENCE, runWorker } from './helpers.ts';

interface Output {
  id: number;
  attempt: number;
  batch: number;
}

const bodies = (n: number, special: Record<number, object> = {}) => Array.from({ length: n }, (_, i) => ({ id: i + 1, ...special[i + 1] }));

describe('batch handlers', () => {
  const dir = new PipelineDir();
  let server: RedisServer;
  let redis: Redis;
  const workers: Worker[] = [];

  before(async () => {
    server = await startRedis();
    redis = server.client();
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop(2000)));
    await server.stop();
    dir.remove();
  });

  /** Pushes the bodies at once (one LPUSH), so the worker finds them all waiting. */
  async function push(key: string, items: object[]): Promise<void> {
    await redis.lpush(key, ...items.map((b) => JSON.stringify(b)));
  }

  async function outputs(key: string): Promise<Output[]> {
    return (await redis.lrange(`${key}:out`, 0, -1)).map((r) => JSON.parse(r) as Output);
  }

  it('a module export gets batches of at most max_size; a failed element is retried alone, a PermanentError element dead-lettered alone', async () => {
    const file = path.join(dir.dir, 'module-batch.yml');
    const yaml = listPipeline('module-batch', 'q:module-batch', {
      handler: `module: "${path.join(SUPPORT, 'handlers/batch.mjs')}"\nexport: handleBatch\nbatch: {max_size: 5, max_wait_ms: 30}`,
      concurrency: 20,
      maxRetries: 3,
    });
    (await import('node:fs')).writeFileSync(file, yaml);
    const harness = await PipelineHarness.start(file);
    try {
      // 23 messages: #7 fails once, #12 is permanent; the rest succeed at the first attempt.
      await harness.push(bodies(23, { 7: { fail: 'once' }, 12: { fail: 'permanent' } }));
      const results = await harness.results<Output>(22);
      const [dead] = await harness.deadLetters(1);
      assert.equal(dead?.reason, 'permanent_error');
      assert.equal(dead?.error, 'row 12 can never be written');
      assert.deepEqual(dead?.body, { id: 12, fail: 'permanent' });

      const mine = calls.filter((call) => call.pipeline === 'module-batch');
      assert.ok(
        mine.every((call) => call.ids.length >= 1 && call.ids.length <= 5),
        `batch sizes ${mine.map((c) => c.ids.length).join(',')}`,
      );
      assert.ok(
        mine.some((call) => call.ids.length === 5),
        'with 20 slots and 23 messages waiting, batches fill up to max_size',
      );
      const handled = mine.flatMap((call) => call.ids.map((id, i) => ({ id, attempt: call.attempts[i] })));
      assert.deepEqual(
        handled.filter((h) => h.id === 7).map((h) => h.attempt),
        [1, 2],
        '#7 handled twice',
      );
      for (let id = 1; id <= 23; id++)
        if (id !== 7) assert.equal(handled.filter((h) => h.id === id).length, 1, `#${id} handled once: the retry of #7 is alone`);

      assert.equal(results.length, 22);
      assert.deepEqual(
        results.map((r) => r.id).sort((a, b) => a - b),
        [...Array(23).keys()].map((i) => i + 1).filter((id) => id !== 12),
      );
      assert.equal(results.find((r) => r.id === 7)?.attempt, 2);
      // Everything acknowledged: nothing left in the source or its processing list.
      assert.equal(await harness.pending(), 0);
      const processing = await harness.client.keys('q:module-batch:processing:*');
      for (const key of processing) assert.equal(await harness.client.hlen(key), 0, `${key} is empty`);
    } finally {
      await harness.stop();
    }
  });

  it('a thrown error fails the whole batch: every message is retried', async () => {
    const key = 'q:module-throw';
    const loaded = await dir.load(
      'module-throw',
      listPipeline('module-throw', key, {
        handler: `module: "${path.join(SUPPORT, 'handlers/batch.mjs')}"\nexport: handleBatch\nbatch: {max_size: 4, max_wait_ms: 30}`,
        concurrency: 4,
      }),
    );
    const { logger } = captureLogger('warn');
    workers.push(await runWorker(server, loaded, logger));
    await push(key, bodies(4, { 2: { throw_once: true } }));
    await waitFor('4 outputs', async () => (await redis.llen(`${key}:out`)) >= 4, { timeoutMs: 15_000 });
    const mine = calls.filter((call) => call.pipeline === 'module-throw');
    const firstAttempt = mine.filter((call) => call.attempts.every((a) => a === 1)).flatMap((call) => call.ids);
    const thrown = mine.find((call) => call.ids.includes(2) && call.attempts[call.ids.indexOf(2)] === 1);
    assert.ok(thrown && firstAttempt.length >= 1);
    for (const id of thrown.ids) {
      const output = (await outputs(key)).find((o) => o.id === id);
      assert.equal(output?.attempt, 2, `#${id} was in the batch that threw: retried`);
    }
  });

  it('on a stream, each message of a batch is acknowledged (XACK) on its own: nothing stays pending', async () => {
    const key = 's:stream-batch';
    const yaml = listPipeline('stream-batch', key, {
      handler: `module: "${path.join(SUPPORT, 'handlers/batch.mjs')}"\nexport: handleBatch\nbatch: {max_size: 4, max_wait_ms: 30}`,
      concurrency: 8,
    }).replace(/^ {2}list: .*$/m, `  stream: {key: "${key}", consumer_group: g, start_id: "0", block_timeout_ms: 100}`);
    const loaded = await dir.load('stream-batch', yaml);
    const { logger } = captureLogger('warn');
    workers.push(await runWorker(server, loaded, logger));
    for (const body of bodies(10, { 5: { fail: 'permanent' }, 6: { fail: 'once' } }))
      await redis.xadd(key, '*', 'body', JSON.stringify(body));
    await waitFor(
      '9 outputs and a dead letter',
      async () => (await redis.llen(`${key}:out`)) >= 9 && (await redis.llen(`${key}:dead`)) >= 1,
      {
        timeoutMs: 15_000,
      },
    );
    await waitFor('no entry pending in the group', async () => ((await redis.xpending(key, 'g')) as [number])[0] === 0, {
      timeoutMs: 5000,
    });
    const calls6 = calls.filter((call) => call.pipeline === 'stream-batch' && call.ids.includes(6));
    assert.deepEqual(
      calls6.map((call) => call.attempts[call.ids.indexOf(6)]),
      [1, 2],
    );
    assert.ok(calls.filter((call) => call.pipeline === 'stream-batch').every((call) => call.ids.length <= 4));
  });

  it('a persistent Node command gets {"id","batch":[...]} lines; element failures stay per message', async () => {
    const key = 'q:node-batch';
    const command = `["${NODE}", "${path.join(FIXTURES, 'batch-persistent.mjs')}"]`;
    const loaded = await dir.load(
      'node-batch',
      listPipeline('node-batch', key, {
        handler: `command: ${command}\nmode: persistent\ninstances: 2\nbatch: {max_size: 6, max_wait_ms: 30}`,
        concurrency: 24,
      }),
    );
    const { logger } = captureLogger('warn');
    workers.push(await runWorker(server, loaded, logger));
    await push(key, bodies(30, { 3: { fail: 'once' }, 17: { fail: 'permanent' } }));
    await waitFor(
      '29 outputs and a dead letter',
      async () => (await redis.llen(`${key}:out`)) >= 29 && (await redis.llen(`${key}:dead`)) >= 1,
      {
        timeoutMs: 20_000,
      },
    );
    const out = await outputs(key);
    assert.equal(out.length, 29);
    assert.ok(
      out.every((o) => o.batch >= 1 && o.batch <= 6),
      `batch sizes ${out.map((o) => o.batch).join(',')}`,
    );
    assert.ok(
      out.some((o) => o.batch === 6),
      'batches fill up to max_size',
    );
    assert.deepEqual(
      out.filter((o) => o.attempt !== 1).map((o) => o.id),
      [3],
      'only #3 was retried',
    );
    const dead = JSON.parse((await redis.lindex(`${key}:dead`, 0)) as string) as { reason: string; error: string; payload: string };
    assert.equal(dead.reason, 'permanent_error');
    assert.match(dead.error, /row 17 can never be written/);
    assert.deepEqual(JSON.parse(dead.payload), { id: 17, fail: 'permanent' });
    assert.equal(await redis.llen(key), 0);
  });

  it('a hostile batch reply (short, not an array, an element without "ok") fails the whole batch, retried; the worker goes on', async () => {
    const key = 'q:hostile-batch';
    const command = `["${NODE}", "${path.join(FIXTURES, 'batch-persistent.mjs')}"]`;
    const loaded = await dir.load(
      'hostile-batch',
      listPipeline('hostile-batch', key, {
        handler: `command: ${command}\nmode: persistent\nenv: {BATCH_FIXTURE_HOSTILE: "1"}\nbatch: {max_size: 3, max_wait_ms: 200}`,
        concurrency: 3,
      }),
    );
    const capture = captureLogger('warn');
    workers.push(await runWorker(server, loaded, capture.logger));
    for (const hostile of ['short', 'not-array', 'bad-element']) {
      await push(key, [
        { id: 1, hostile },
        { id: 2, hostile: 'none' },
        { id: 3, hostile: 'none' },
      ]);
      await waitFor(`3 outputs after the ${hostile} reply`, async () => (await redis.llen(`${key}:out`)) >= 3, { timeoutMs: 15_000 });
      const out = await outputs(key);
      assert.deepEqual(
        out.map((o) => o.attempt),
        [2, 2, 2],
        `${hostile}: the whole batch was retried`,
      );
      await redis.del(`${key}:out`);
    }
    const warnings = capture
      .records()
      .map((r) => String(r.msg))
      .filter((m) => m.startsWith('malformed batch reply'));
    assert.deepEqual(warnings, [
      'malformed batch reply: 2 results for a batch of 3 messages; every message of the batch fails (retryable)',
      'malformed batch reply: "results" must be an array with one element per message (3); every message of the batch fails (retryable)',
      'malformed batch reply: results[0] has neither "ok": true nor "ok": false; every message of the batch fails (retryable)',
    ]);
    assert.equal(await redis.llen(`${key}:dead`), 0);
  });

  it('a Python batch function on the reference loop: element exceptions per message, a raise fails the batch', async () => {
    const key = 'q:python-batch-fn';
    const loaded = await dir.load(
      'python-batch-fn',
      listPipeline('python-batch-fn', key, {
        handler: `command: ["python3", "${path.join(FIXTURES, 'batch_persistent.py')}"]\nmode: persistent\nbatch: {max_size: 5, max_wait_ms: 30}`,
        concurrency: 10,
      }),
    );
    const { logger } = captureLogger('warn');
    workers.push(await runWorker(server, loaded, logger));
    await push(key, bodies(5, { 2: { fail: 'once' }, 4: { fail: 'permanent' } }));
    await waitFor(
      '4 outputs and a dead letter',
      async () => (await redis.llen(`${key}:out`)) >= 4 && (await redis.llen(`${key}:dead`)) >= 1,
      {
        timeoutMs: 15_000,
      },
    );
    const out = await outputs(key);
    assert.deepEqual(
      out.map((o) => [o.id, o.attempt]).sort((a, b) => (a[0] as number) - (b[0] as number)),
      [
        [1, 1],
        [2, 2],
        [3, 1],
        [5, 1],
      ],
    );
    const dead = JSON.parse((await redis.lindex(`${key}:dead`, 0)) as string) as { reason: string; error: string };
    assert.equal(dead.reason, 'permanent_error');
    assert.equal(dead.error, 'row 4 can never be written');

    await push(key, bodies(3, { 1: { throw_once: true } }));
    await waitFor('3 more outputs', async () => (await redis.llen(`${key}:out`)) >= 7, { timeoutMs: 15_000 });
    const retried = (await outputs(key)).slice(0, 3);
    assert.deepEqual(
      retried.map((o) => o.attempt),
      [2, 2, 2],
      'the batch that raised was retried whole',
    );
  });

  it('the Python reference loop answers batch lines per element by default', async () => {
    const key = 'q:python-batch';
    const loaded = await dir.load(
      'python-batch',
      listPipeline('python-batch', key, {
        handler: `command: ["python3", "${path.join(REFERENCE, 'persistent_handler.py')}"]\nmode: persistent\nbatch: {max_size: 4, max_wait_ms: 30}`,
        concurrency: 8,
      }),
    );
    const { logger } = captureLogger('warn');
    workers.push(await runWorker(server, loaded, logger));
    await push(key, bodies(10));
    await waitFor('10 outputs', async () => (await redis.llen(`${key}:out`)) >= 10, { timeoutMs: 15_000 });
    const out = (await redis.lrange(`${key}:out`, 0, -1)).map((r) => JSON.parse(r) as { body: { id: number }; handled_by: string });
    assert.deepEqual(
      out.map((o) => o.body.id).sort((a, b) => a - b),
      [...Array(10).keys()].map((i) => i + 1),
    );
    assert.ok(out.every((o) => o.handled_by === 'python'));
  });
});
