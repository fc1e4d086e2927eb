import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createLogger } from '../../src/runtime/logger.ts';
import { RunningPipeline } from '../../src/runtime/pipeline.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { startRedis, type RedisServer } from '../../src/testing/redis-server.ts';
import { handled } from './handlers/record.ts';
import { PipelineFiles, RECORD_HANDLER, spawnPythia, terminate } from './support.ts';
import { waitFor } from '../helpers/wait.ts';

// Characters that would need escaping in a URL: the credentials travel in username/password fields.
const PASSWORD = 'Zq7:p@ss/w0rd%#!-acl-secret';
const USER = 'pythia-worker';

/**
 * The ACL of a worker that may touch only its pipelines' keys: the sources, the keys derived from
 * them ({key}:...), their dead letters and outputs. The commands are the ones Pythia sends
 * (docs/scaling.md lists them); nothing else, so ACL LOG shows any command outside the list.
 */
const ACL_RULES = [
  'resetkeys',
  '~task-queue',
  '~{task-queue}:*',
  '~task-queue:dead',
  '~task-queue:done',
  '~events',
  '~{events}:*',
  '~events:dead',
  'resetchannels',
  '-@all',
  '+hello',
  '+auth',
  '+ping',
  '+quit',
  '+client|setname',
  '+info',
  '+select',
  '+eval',
  '+evalsha',
  '+rpop',
  '+lpop',
  '+lpush',
  '+rpush',
  '+lrem',
  '+lrange',
  '+lindex',
  '+blmove',
  '+blmpop',
  '+llen',
  '+exists',
  '+del',
  '+get',
  '+set',
  '+pttl',
  '+pexpire',
  '+sadd',
  '+srem',
  '+smembers',
  '+hget',
  '+hdel',
  '+hincrby',
  '+hset',
  '+hgetall',
  '+hlen',
  '+incrby',
  '+type',
  '+xgroup|create',
  '+xgroup|delconsumer',
  '+xreadgroup',
  '+xack',
  '+xpending',
  '+xclaim',
  '+xadd',
  '+xtrim',
  '+xinfo|groups',
  '+xinfo|consumers',
  '+xlen',
  '+zadd',
  '+zrem',
  '+zremrangebyscore',
  '+zcard',
  '+zremrangebyrank',
];

const yaml = (name: string, source: string, extra = '') => `
version: 1
name: ${name}
redis:
  host: 127.0.0.1
  port: \${REDIS_PORT}
  username: \${REDIS_USER}
  password: \${REDIS_PASSWORD}
source:
${source}
handler: {module: "${RECORD_HANDLER}", export: handle}
concurrency: 8
metrics: {enabled: false}
shutdown: {grace_period_ms: 3000}
${extra}`;

function captureLogs(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

describe("ACL: a user allowed only the pipeline's keys, credentials from the environment", { timeout: 60_000 }, () => {
  let server: RedisServer;
  let admin: Redis;
  const files = new PipelineFiles();
  let env: NodeJS.ProcessEnv;
  before(async () => {
    server = await startRedis();
    admin = server.client();
    await admin.call('ACL', 'SETUSER', USER, 'reset', 'on', `>${PASSWORD}`, ...ACL_RULES);
    await admin.call('ACL', 'LOG', 'RESET');
    env = { REDIS_PORT: String(server.port), REDIS_USER: USER, REDIS_PASSWORD: PASSWORD };
  });
  after(async () => {
    await server?.stop();
    files.remove();
  });

  it('the user really is confined to those keys', async () => {
    const user = new Redis({ port: server.port, host: '127.0.0.1', username: USER, password: PASSWORD, maxRetriesPerRequest: 0 });
    try {
      await assert.rejects(user.get('someone-else'), /NOPERM/);
      await assert.rejects(user.lpush('other-queue', 'x'), /NOPERM/);
      await assert.rejects(user.flushall(), /NOPERM/);
      assert.equal(await user.llen('task-queue'), 0);
    } finally {
      user.disconnect();
      await admin.call('ACL', 'LOG', 'RESET');
    }
  });

  it('pythia run (a child process) works under the ACL and never prints the password', async () => {
    // Metrics on (any free port) so the Redis gauges run under the ACL too.
    const file = files.write(
      'acl-list',
      yaml('acl-list', '  list: {key: task-queue, batch_size: 20, recovery_interval_ms: 200}', 'output: {list: "task-queue:done"}').replace(
        'metrics: {enabled: false}',
        'metrics: {enabled: true, host: 127.0.0.1, port: 0, redis: {interval_ms: 100}}',
      ),
    );
    const child = spawnPythia([file], { ...env, PYTHIA_LOG_LEVEL: 'debug' });
    try {
      await waitFor('the worker to start consuming', () => /pipeline consuming/.test(child.output()) || child.exitCode !== null, {
        timeoutMs: 20_000,
      });
      assert.equal(child.exitCode, null, child.output());
      await admin.lpush('task-queue', ...Array.from({ length: 200 }, (_, i) => JSON.stringify({ id: i + 1 })), 'not json');
      await waitFor(
        'every message handled or dead-lettered',
        async () => (await admin.llen('task-queue:done')) === 200 && (await admin.llen('task-queue:dead')) === 1,
        { timeoutMs: 20_000 },
      );
    } finally {
      assert.equal(await terminate(child), 0, child.output());
    }
    const output = child.output();
    assert.match(output, /metrics server listening/);
    assert.doesNotMatch(output, /sampling redis gauges failed/);
    assert.ok(!output.includes(PASSWORD), 'the password appears in the output');
    assert.ok(!output.includes(encodeURIComponent(PASSWORD)), 'the URL-encoded password appears in the output');
    assert.deepEqual(await admin.call('ACL', 'LOG'), [], 'no command or key outside the ACL was attempted');
    // {task-queue}:ids, the processing hashes' id counter, stays (ids must never repeat).
    assert.deepEqual(
      (await admin.keys('{task-queue}:*')).filter((key) => key !== '{task-queue}:ids'),
      [],
      'no processing hash or heartbeat left behind',
    );
  });

  it('an at-most-once list works under the ACL, an oversized item set aside and dead-lettered included', async () => {
    const loaded = await files.load(
      'acl-amo',
      yaml('acl-amo', '  list: {key: task-queue, delivery: at-most-once, consumer: c1}', 'message: {max_bytes: 1024}'),
      env,
    );
    const before = await admin.llen('task-queue:dead');
    await admin.lpush('task-queue', JSON.stringify({ id: 'amo-big', pad: 'x'.repeat(4000) }), JSON.stringify({ id: 'amo-small' }));
    const worker = await Worker.start([loaded], { logger: createLogger('silent') });
    try {
      await waitFor('the small item handled, the big one dead-lettered', async () => {
        return handled('task-queue').has('amo-small') && (await admin.llen('task-queue:dead')) === before + 1;
      });
    } finally {
      await worker.stop();
    }
    assert.equal(await admin.exists('{task-queue}:oversized:c1'), 0, 'nothing left set aside');
    assert.deepEqual(await admin.call('ACL', 'LOG'), [], 'no command or key outside the ACL was attempted');
  });

  it('a stream pipeline works under the ACL; a wrong password is reported without the credentials', async () => {
    const logs = captureLogs();
    const logger = createLogger('trace', logs.stream);
    const loaded = await files.load(
      'acl-stream',
      yaml('acl-stream', '  stream: {key: events, consumer: c1, start_id: "0", max_stream_length: 1000}'),
      env,
    );
    for (let i = 1; i <= 100; i++) await admin.xadd('events', '*', 'body', JSON.stringify({ id: i }));
    const worker = await Worker.start([loaded], { logger });
    try {
      await waitFor('every entry handled', () => handled('events').size >= 100, { timeoutMs: 15_000 });
    } finally {
      await worker.stop();
    }
    assert.deepEqual(await admin.call('ACL', 'LOG'), [], 'no command or key outside the ACL was attempted');

    const wrong = await files.load('acl-wrong', yaml('acl-wrong', '  list: {key: task-queue}'), {
      ...env,
      REDIS_PASSWORD: `${PASSWORD}-wrong`,
    });
    const pipeline = new RunningPipeline(wrong, { logger });
    try {
      await waitFor('the authentication error to be logged', () => /WRONGPASS|invalid username-password/.test(logs.text()), {
        timeoutMs: 10_000,
      });
    } finally {
      pipeline.source.interrupt();
      await pipeline.pool.close();
    }
    assert.ok(
      !logs.text().includes(PASSWORD),
      `the password appears in the logs: ${logs
        .text()
        .split('\n')
        .find((l) => l.includes(PASSWORD))}`,
    );
  });
});
