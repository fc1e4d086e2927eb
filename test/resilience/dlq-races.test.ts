import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { DeadLetterEntry } from '../../src/outputs/dead-letter.ts';
import { pipelineYaml } from '../helpers/pipelines.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { pythia, type CliResult } from './helpers.ts';

const stamp = '2026-01-01T00:00:00.000Z';
const entry = (pipeline: string, n: number): DeadLetterEntry => ({
  payload: `{"n":${n}}`,
  payload_encoding: 'utf8',
  reason: 'retries_exhausted',
  error: 'e',
  attempts: 3,
  pipeline,
  source: { kind: 'list', key: `q:${pipeline}` },
  message_id: String(n),
  first_failure_at: stamp,
  last_failure_at: stamp,
  dead_lettered_at: stamp,
});

async function seed(client: Redis, count: number, add: (pipe: ReturnType<Redis['pipeline']>, n: number) => void): Promise<void> {
  for (let from = 0; from < count; from += 5000) {
    const pipe = client.pipeline();
    for (let n = from; n < Math.min(count, from + 5000); n++) add(pipe, n);
    await pipe.exec();
  }
}

const replayedCount = (result: CliResult) => Number(/replayed (\d+) entr/.exec(result.stderr)?.[1] ?? NaN);
const replayedIds = (result: CliResult) => result.stdout.split('\n').filter(Boolean);

describe('pythia dlq: concurrent replays and purges of the wrong key', () => {
  const redis = usePrivateRedis({ exportUrl: true });

  it('two concurrent replay --all of 100,000 list entries move each exactly once, each holding one batch in memory', async () => {
    const name = 'race-list';
    const count = 100_000;
    const file = redis.dir.write(name, pipelineYaml(name, { source: `{list: {key: "q:${name}"}}`, handler: '{command: ["cat"]}' }));
    await seed(redis.client, count, (pipe, n) => pipe.lpush(`q:${name}:dead`, JSON.stringify(entry(name, n))));
    // A heap of 64 MB: a replay that kept every entry it moved needs several hundred for 100,000.
    const env = { NODE_OPTIONS: '--max-old-space-size=64' };
    const [a, b] = await Promise.all([pythia(['dlq', 'replay', file, '--all'], env), pythia(['dlq', 'replay', file, '--all'], env)]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(replayedCount(a) + replayedCount(b), count, `${a.stderr}\n${b.stderr}`);
    const ids = [...replayedIds(a), ...replayedIds(b)];
    assert.equal(ids.length, count);
    assert.equal(new Set(ids).size, count, 'no entry was reported by both replays');
    assert.equal(await redis.client.llen(`q:${name}:dead`), 0);
    const source = await redis.client.lrange(`q:${name}`, 0, -1);
    assert.equal(source.length, count, 'the source holds each message once');
    assert.equal(new Set(source).size, count, 'no message was sent twice');
  });

  it('two concurrent replay --all of 20,000 stream entries into a stream source move each exactly once', async () => {
    const name = 'race-stream';
    const count = 20_000;
    const file = redis.dir.write(
      name,
      pipelineYaml(
        name,
        { source: `{stream: {key: "s:${name}", consumer_group: g}}`, handler: '{command: ["cat"]}' },
        `dead_letter: {stream: {key: "s:${name}:dead"}}\n`,
      ),
    );
    await seed(redis.client, count, (pipe, n) => {
      const dead = {
        ...entry(name, n),
        source: { kind: 'stream' as const, key: `s:${name}` },
        fields: { n: String(n), body: `{"n":${n}}` },
      };
      pipe.xadd(`s:${name}:dead`, '*', 'body', JSON.stringify(dead), 'payload', dead.payload, 'reason', dead.reason);
    });
    const [a, b] = await Promise.all([pythia(['dlq', 'replay', file, '--all']), pythia(['dlq', 'replay', file, '--all'])]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(replayedCount(a) + replayedCount(b), count, `${a.stderr}\n${b.stderr}`);
    assert.equal(await redis.client.xlen(`s:${name}:dead`), 0);
    const source = await redis.client.xrange(`s:${name}`, '-', '+');
    assert.equal(source.length, count);
    assert.equal(new Set(source.map(([, fields]) => fields[1])).size, count, 'no message was sent twice');
  });

  it('purge of a key holding another type changes nothing and says why (exit 1)', async () => {
    const list = 'purge-list';
    const listFile = redis.dir.write(
      list,
      pipelineYaml(list, { source: `{list: {key: "q:${list}"}}`, handler: '{command: ["cat"]}' }, 'dead_letter: {list: "not-a-list"}\n'),
    );
    await redis.client.hset('not-a-list', 'a', '1', 'b', '2');
    const wrongList = await pythia(['dlq', 'purge', listFile, '--yes']);
    assert.equal(wrongList.code, 1, wrongList.stderr);
    assert.match(
      wrongList.stderr,
      /pythia dlq purge: not-a-list holds a hash, not a list: it is not this pipeline's dead letter, so nothing was purged/,
    );
    assert.deepEqual(await redis.client.hgetall('not-a-list'), { a: '1', b: '2' }, 'the hash is intact');

    const stream = 'purge-stream';
    const streamFile = redis.dir.write(
      stream,
      pipelineYaml(
        stream,
        { source: `{list: {key: "q:${stream}"}}`, handler: '{command: ["cat"]}' },
        'dead_letter: {stream: {key: "not-a-stream"}}\n',
      ),
    );
    await redis.client.rpush('not-a-stream', 'x', 'y');
    const wrongStream = await pythia(['dlq', 'purge', streamFile, '--yes']);
    assert.equal(wrongStream.code, 1, wrongStream.stderr);
    assert.match(wrongStream.stderr, /not-a-stream holds a list, not a stream/);
    assert.deepEqual(await redis.client.lrange('not-a-stream', 0, -1), ['x', 'y'], 'the list is intact');

    // The right type is still purged.
    await redis.client.del('not-a-list');
    await redis.client.lpush('not-a-list', JSON.stringify(entry(list, 1)));
    const right = await pythia(['dlq', 'purge', listFile, '--yes']);
    assert.equal(right.code, 0, right.stderr);
    assert.match(right.stderr, /purged 1 entry from list not-a-list/);
    assert.equal(await redis.client.exists('not-a-list'), 0);
  });
});
