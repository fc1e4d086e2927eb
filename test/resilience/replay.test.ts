import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { dlqListCommand, dlqPurgeCommand, dlqReplayCommand } from '../../src/cli/dlq.ts';
import { deadLetterLocation, replayTarget } from '../../src/dlq/location.ts';
import { purgeDeadLetters } from '../../src/dlq/purge.ts';
import { parseStreamEntry, scanEntries, type StoredEntry } from '../../src/dlq/read.ts';
import { replayDeadLetters } from '../../src/dlq/replay.ts';
import type { DeadLetterEntry } from '../../src/outputs/dead-letter.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { PipelineDir, pipelineYaml } from '../helpers/pipelines.ts';
import { startRedis, type RedisServer } from '../helpers/redis-server.ts';
import { listDeadLetters, captured, pythia } from './helpers.ts';
import { waitFor } from '../helpers/wait.ts';

const quiet = createLogger('silent');
const BINARY = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41, 0x0a, 0xc3, 0x28]);

interface Result {
  id: number | null;
  attempt: number;
  raw: string;
  fields: Record<string, string>;
}

describe('dead letters replayed into the source are processed again', () => {
  let server: RedisServer;
  let client: Redis;
  const dir = new PipelineDir();
  const marker = path.join(dir.dir, 'broken');
  before(async () => {
    server = await startRedis();
    client = server.client();
    process.env.REDIS_URL = server.url;
    process.env.PYTHIA_TEST_BROKEN_WHILE = marker;
  });
  after(async () => {
    await server.stop();
    dir.remove();
  });
  beforeEach(() => writeFileSync(marker, 'the downstream is down'));
  const fix = () => rmSync(marker, { force: true });
  const results = async (key: string) => (await client.lrange(key, 0, -1)).reverse().map((r) => JSON.parse(r) as Result);

  it('list source, default dead letter: pythia dlq list / replay --id / replay --all / purge', async () => {
    const name = 'replay-list';
    const file = dir.write(
      name,
      pipelineYaml(
        name,
        {},
        `source: {list: {key: "q:${name}", block_timeout_ms: 200}}
handler: {module: "{{support}}/handlers/broken-while.mjs"}
resilience: {max_retries: 1, retry_delay_ms: 10, circuit_breaker: {enabled: false}}
output: {list: "${name}:out"}
`,
      ),
    );
    const loaded = await dir.load(name, (await import('node:fs')).readFileSync(file, 'utf8'));
    const dead = `q:${name}:dead`;
    const worker = await Worker.start([loaded], { logger: quiet });
    try {
      await client.lpush(`q:${name}`, ...[1, 2, 3].map((id) => JSON.stringify({ id, broken_while: marker })));
      await waitFor(`LLEN ${dead} >= 3`, () => client.llen(dead), { until: (n) => n >= 3, timeoutMs: 5000 });
      const before = await listDeadLetters(client, dead);
      assert.deepEqual(
        before.map((e) => [e.reason, e.attempts]),
        [
          ['retries_exhausted', 2],
          ['retries_exhausted', 2],
          ['retries_exhausted', 2],
        ],
      );

      const order = before.map((e) => (JSON.parse(e.payload) as { id: number }).id);
      const list = await pythia(['dlq', 'list', file]);
      assert.equal(list.code, 0, list.stderr);
      const lines = list.stdout.trim().split('\n');
      assert.equal(lines.length, 3);
      assert.match(list.stderr, new RegExp(`dead letter list ${dead} of pipeline ${name}: 3 entries`));
      const first = new RegExp(
        `^[0-9a-f]{16}  retries_exhausted  attempts=2  error="downstream unavailable for ${order[0]}"  source=list:q:replay-list  first=\\S+  last=\\S+  payload="\\{\\\\"id\\\\":${order[0]},`,
      );
      assert.match(lines[0] as string, first);
      // Usage errors and an unknown id change nothing (run in-process: they never reach Redis or fail early).
      const io = captured();
      assert.equal(await dlqReplayCommand(file, {}, io), 2);
      assert.equal(await dlqReplayCommand(file, { all: true, id: ['x'] }, io), 2);
      assert.equal(await dlqPurgeCommand(file, {}, io), 2);
      assert.equal(await dlqReplayCommand(file, { id: ['no-such-entry'] }, io), 1);
      const { stderr } = io;
      assert.match(stderr, /run again with --yes/);
      assert.match(stderr, /no entry with id or message_id no-such-entry/);
      assert.equal(await client.llen(dead), 3, 'nothing was removed by the failed commands');

      fix();
      const firstId = (lines[0] as string).split(' ')[0] as string;
      const one = await pythia(['dlq', 'replay', file, '--id', firstId]);
      assert.equal(one.code, 0, one.stderr);
      assert.equal(one.stdout, `replayed ${firstId}\n`);
      await waitFor(`LLEN ${name}:out >= 1`, () => client.llen(`${name}:out`), { until: (n) => n >= 1, timeoutMs: 5000 });
      assert.equal(await client.llen(dead), 2);

      const all = captured();
      assert.equal(await dlqReplayCommand(file, { all: true }, all), 0, all.stderr);
      assert.match(all.stderr, new RegExp(`replayed 2 entries from list ${dead} into list q:${name}`));
      await waitFor(`LLEN ${name}:out >= 3`, () => client.llen(`${name}:out`), { until: (n) => n >= 3, timeoutMs: 5000 });
      assert.equal(await client.llen(dead), 0, 'the dead letter is empty');
      const done = await results(`${name}:out`);
      assert.deepEqual(
        done.map((r) => [r.id, r.attempt]),
        order.map((id) => [id, 1]),
        'processed oldest dead letter first, attempts reset',
      );

      const purge = captured();
      assert.equal(await dlqPurgeCommand(file, { yes: true }, purge), 0, purge.stderr);
      assert.match(purge.stderr, /purged 0 entries/);
    } finally {
      await worker.stop();
    }
  });

  it('a message_id naming one entry works as --id; entries of other pipelines and foreign elements stay', async () => {
    const name = 'replay-ids';
    const loaded = await dir.load(
      name,
      pipelineYaml(
        name,
        {},
        `source: {list: {key: "q:${name}", block_timeout_ms: 200}}
handler: {module: "{{support}}/handlers/broken-while.mjs"}
dead_letter: {list: "shared:dead"}
`,
      ),
    );
    const stamp = '2026-01-01T00:00:00.000Z';
    const entry = (pipeline: string, messageId: string, payload: string): DeadLetterEntry => ({
      payload,
      payload_encoding: 'utf8',
      reason: 'retries_exhausted',
      error: 'e',
      attempts: 3,
      pipeline,
      source: { kind: 'list', key: 'q:other' },
      message_id: messageId,
      first_failure_at: stamp,
      last_failure_at: stamp,
      dead_lettered_at: stamp,
    });
    // Oldest first: ours (m1), someone else's, garbage, ours twice with the same message id (m2).
    await client.lpush(
      'shared:dead',
      JSON.stringify(entry(name, 'm1', 'a')),
      JSON.stringify(entry('other', 'o1', 'b')),
      'not json',
      JSON.stringify(entry(name, 'm2', 'c')),
      JSON.stringify({ ...entry(name, 'm2', 'd'), error: 'f' }),
    );
    const location = deadLetterLocation(loaded);
    const target = replayTarget(loaded);
    const replayed: StoredEntry[] = [];
    const onReplayed = (batch: readonly StoredEntry[]) => void replayed.push(...batch);
    const byMessageId = await replayDeadLetters(client, location, target, { pipeline: name, ids: ['m1', 'm2'], onReplayed });
    assert.deepEqual(
      replayed.splice(0).map((s) => s.entry?.message_id),
      ['m1'],
    );
    assert.equal(byMessageId.replayed, 1);
    assert.equal(byMessageId.ambiguous.length, 1);
    assert.equal(byMessageId.ambiguous[0]?.matches.length, 2);
    assert.deepEqual(await client.lrange(`q:${name}`, 0, -1), ['a']);
    const all = await replayDeadLetters(client, location, target, { pipeline: name, chunk: 2, onReplayed });
    assert.deepEqual(
      replayed.map((s) => s.payload?.toString()),
      ['c', 'd'],
    );
    assert.equal(all.otherPipeline, 1);
    assert.equal(all.unreadable, 1);
    assert.deepEqual(await client.lrange(`q:${name}`, 0, -1), ['d', 'c', 'a']);
    const left: StoredEntry[] = [];
    for await (const stored of scanEntries(client, location)) left.push(stored);
    assert.deepEqual(
      left.map((s) => s.entry?.pipeline ?? s.problem),
      ['other', 'not JSON: Unexpected token \'o\', "not json" is not valid JSON'],
    );
    assert.equal(await purgeDeadLetters(client, location), 2);
    assert.equal(await client.exists('shared:dead'), 0);
  });

  it('stream source and stream dead letter: binary payload and fields survive the round trip', async () => {
    const name = 'replay-stream';
    const file = dir.write(
      name,
      pipelineYaml(
        name,
        {},
        `source: {stream: {key: "s:${name}", consumer_group: g, start_id: "0", block_timeout_ms: 200}}
message: {format: binary}
handler: {module: "{{support}}/handlers/broken-while.mjs"}
resilience: {max_retries: 0}
dead_letter: {stream: {key: "s:${name}:dead", max_stream_length: 1000}}
output: {list: "${name}:out"}
`,
      ),
    );
    const loaded = await dir.load(name, (await import('node:fs')).readFileSync(file, 'utf8'));
    const worker = await Worker.start([loaded], { logger: quiet });
    try {
      const originalId = (await client.xadd(`s:${name}`, '*', 'kind', 'bin', 'body', BINARY, 'tail', 'x')) as string;
      await waitFor(`XLEN s:${name}:dead >= 1`, () => client.xlen(`s:${name}:dead`), { until: (n) => n >= 1, timeoutMs: 5000 });
      const [[deadId, flat]] = (await client.xrangeBuffer(`s:${name}:dead`, '-', '+')) as [[Buffer, Buffer[]]];
      const names = flat.filter((_, i) => i % 2 === 0).map((b) => b.toString());
      assert.deepEqual(names, ['body', 'payload', 'reason']);
      assert.ok((flat[3] as Buffer).equals(BINARY), 'the payload field holds the raw bytes');
      assert.equal((flat[5] as Buffer).toString(), 'retries_exhausted');
      const stored = parseStreamEntry(deadId.toString(), flat);
      assert.equal(stored.entry?.payload_encoding, 'base64');
      assert.ok(Buffer.from(stored.entry?.payload ?? '', 'base64').equals(BINARY));
      assert.equal(stored.entry?.message_id, originalId);
      assert.deepEqual(stored.entry?.source, { kind: 'stream', key: `s:${name}` });
      assert.equal(stored.entry?.attempts, 1);

      const list = captured();
      assert.equal(await dlqListCommand(file, {}, list), 0, list.stderr);
      assert.equal(list.stdout.split('\n')[0]?.split('  ').slice(0, 3).join('  '), `${deadId.toString()}  retries_exhausted  attempts=1`);
      assert.match(list.stdout, /payload=hex:00fffe80410ac328 \(8 bytes, not UTF-8\)\n$/);
      assert.match(list.stderr, new RegExp(`dead letter stream s:${name}:dead of pipeline ${name}: 1 entry`));

      fix();
      const replay = await pythia(['dlq', 'replay', file, '--all']);
      assert.equal(replay.code, 0, replay.stderr);
      assert.equal(replay.stdout, `replayed ${deadId.toString()}\n`);
      await waitFor(`LLEN ${name}:out >= 1`, () => client.llen(`${name}:out`), { until: (n) => n >= 1, timeoutMs: 5000 });
      assert.equal(await client.xlen(`s:${name}:dead`), 0, 'the dead letter is empty');
      const [done] = await results(`${name}:out`);
      assert.ok(Buffer.from(done?.raw ?? '', 'base64').equals(BINARY), 'the replayed body is byte for byte the original');
      assert.equal(done?.attempt, 1);
      assert.deepEqual(Object.keys(done?.fields ?? {}), ['kind', 'body', 'tail']);
      assert.equal(done?.fields.tail, 'x');
      const pending = (await client.xpending(`s:${name}`, 'g')) as [number];
      assert.equal(pending[0], 0);
    } finally {
      await worker.stop();
    }
  });

  it('channel source: replay publishes to the original channel, and keeps the entry when nobody listens', async () => {
    const name = 'replay-channel';
    const loaded = await dir.load(
      name,
      pipelineYaml(
        name,
        {},
        `source: {channel: {channels: ["ch:${name}"], patterns: ["chp:*"]}}
handler: {module: "{{support}}/handlers/broken-while.mjs"}
resilience: {max_retries: 0}
output: {list: "${name}:out"}
`,
      ),
    );
    const dead = `pythia:${name}:dead`;
    let worker = await Worker.start([loaded], { logger: quiet });
    await client.publish('chp:one', JSON.stringify({ id: 1 }));
    await waitFor('the default dead letter of a channel pipeline', async () => (await client.llen(dead)) >= 1, { timeoutMs: 5000 });
    await worker.stop();
    const [entry] = await listDeadLetters(client, dead);
    assert.deepEqual(entry?.source, { kind: 'channel', channel: 'chp:one', pattern: 'chp:*' });
    fix();
    const location = deadLetterLocation(loaded);
    const target = replayTarget(loaded);
    const unheard = await replayDeadLetters(client, location, target, { pipeline: name });
    assert.equal(unheard.replayed, 0);
    assert.match(unheard.failed[0]?.error ?? '', /no subscriber/);
    assert.equal(await client.llen(dead), 1, 'kept: Redis would have dropped it');
    worker = await Worker.start([loaded], { logger: quiet });
    try {
      const heard = await replayDeadLetters(client, location, target, { pipeline: name });
      assert.equal(heard.replayed, 1);
      await waitFor(`LLEN ${name}:out >= 1`, () => client.llen(`${name}:out`), { until: (n) => n >= 1, timeoutMs: 5000 });
      assert.equal(await client.llen(dead), 0);
      const [done] = await results(`${name}:out`);
      assert.deepEqual([done?.id, done?.attempt], [1, 1]);
    } finally {
      await worker.stop();
    }
  });
});
