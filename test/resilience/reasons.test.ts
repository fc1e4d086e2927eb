import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { LoadedPipeline } from '../../src/config/index.ts';
import type { DeadLetterEntry, DeadLetterReason } from '../../src/outputs/dead-letter.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { PipelineDir, pipelineYaml } from '../helpers/pipelines.ts';
import { startRedis, type RedisServer } from '../helpers/redis-server.ts';
import { listDeadLetters, payloadBytes, pythia } from './helpers.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

const quiet = createLogger('silent');
const DLQ = 'reasons:dead';

/** Bytes that are not valid UTF-8 (0xff, a lone continuation byte, NUL): they must survive untouched. */
const BINARY = Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x80, 0x22, 0x0a, 0xc3]);

interface Case {
  reason: DeadLetterReason;
  yaml: string;
  payload: Buffer;
  attempts: number;
  error: RegExp;
  source: { kind: 'list' | 'stream'; key: string };
  /** Minimum time between the first and the last failure. */
  spanMs?: number;
}

const list = (key: string) => `source: {list: {key: "${key}", batch_size: 10, block_timeout_ms: 200}}`;

const cases: Case[] = [
  {
    reason: 'retries_exhausted',
    yaml: `${list('q:retries')}
handler: {module: "{{support}}/handlers/record.mjs"}
resilience: {max_retries: 2, retry_delay_ms: 40, retry_backoff: 2, retry_jitter: 0}`,
    payload: Buffer.from('{"id":1,"fail":"always"}'),
    attempts: 3,
    error: /^failing 1$/,
    source: { kind: 'list', key: 'q:retries' },
    spanMs: 40 + 80 - 5,
  },
  {
    reason: 'permanent_error',
    yaml: `${list('q:permanent')}
handler: {module: "{{support}}/handlers/permanent.mjs"}
resilience: {max_retries: 5, retry_delay_ms: 10}`,
    payload: Buffer.from('{"id":2,"permanent":"class"}'),
    attempts: 1,
    error: /^cannot process 2$/,
    source: { kind: 'list', key: 'q:permanent' },
  },
  {
    reason: 'timeout',
    yaml: `${list('q:timeout')}
handler: {module: "{{support}}/handlers/stubborn.mjs"}
resilience: {max_retries: 1, retry_delay_ms: 10, retry_jitter: 0, processing_timeout_ms: 100}`,
    payload: Buffer.from('{"id":3,"hang":400}'),
    attempts: 2,
    error: /timed out after 100 ms/,
    source: { kind: 'list', key: 'q:timeout' },
    spanMs: 100,
  },
  {
    reason: 'invalid_json',
    yaml: `${list('q:json')}
handler: {module: "{{support}}/handlers/record.mjs"}`,
    payload: BINARY,
    attempts: 0,
    error: /^invalid JSON/,
    source: { kind: 'list', key: 'q:json' },
  },
  {
    reason: 'schema_invalid',
    yaml: `${list('q:schema')}
message: {format: json, schema: ./order.schema.json}
handler: {module: "{{support}}/handlers/record.mjs"}`,
    payload: Buffer.from('{"id":"five","amount":5}'),
    attempts: 0,
    error: /does not match message.schema: \/id must be integer/,
    source: { kind: 'list', key: 'q:schema' },
  },
  {
    reason: 'too_large',
    yaml: `${list('q:large')}
message: {format: binary, max_bytes: 32}
handler: {module: "{{support}}/handlers/record.mjs"}`,
    payload: Buffer.concat([BINARY, Buffer.alloc(40, 0xaa)]),
    attempts: 0,
    error: /48 bytes exceeds message.max_bytes 32/,
    source: { kind: 'list', key: 'q:large' },
  },
  {
    reason: 'max_deliveries',
    yaml: `source: {stream: {key: "s:deliveries", consumer_group: g, consumer: c1, start_id: "0", max_deliveries: 2, block_timeout_ms: 200}}
handler: {module: "{{support}}/handlers/record.mjs"}`,
    payload: Buffer.from('{"id":7}'),
    attempts: 2,
    error: /delivered 3 times, more than source.stream.max_deliveries \(2\)/,
    source: { kind: 'stream', key: 's:deliveries' },
  },
];

describe('each dead-letter reason produces exactly one entry with the right fields', () => {
  let server: RedisServer;
  let client: Redis;
  let worker: Worker | undefined;
  const dir = new PipelineDir();
  const files = new Map<DeadLetterReason, string>();
  const loaded: LoadedPipeline[] = [];
  let streamEntryId = '';
  let started = 0;

  before(async () => {
    server = await startRedis();
    client = server.client();
    process.env.REDIS_URL = server.url;
    writeFileSync(
      path.join(dir.dir, 'order.schema.json'),
      JSON.stringify({ type: 'object', required: ['id'], properties: { id: { type: 'integer' } } }),
    );
    for (const c of cases) {
      const name = c.reason.replaceAll('_', '-');
      const yaml = pipelineYaml(name, {}, `${c.yaml}\nconcurrency: 4\ndead_letter: {list: "${DLQ}"}\noutput: {list: "${name}:out"}\n`);
      files.set(c.reason, dir.write(name, yaml));
      loaded.push(await dir.load(name, yaml));
    }
    for (const c of cases) {
      if (c.source.kind === 'list') await client.lpush(c.source.key, c.payload);
    }
    // max_deliveries: the entry was handed out twice before (a consumer crashed on it twice), so the
    // worker's recovery of c1's pending entries is its third delivery.
    streamEntryId = (await client.xadd('s:deliveries', '*', 'body', '{"id":7}', 'origin', 'test')) as string;
    await client.xgroup('CREATE', 's:deliveries', 'g', '0');
    await client.xreadgroup('GROUP', 'g', 'c1', 'COUNT', 1, 'STREAMS', 's:deliveries', '>');
    await client.xclaim('s:deliveries', 'g', 'c1', 0, streamEntryId);
    started = Date.now();
    worker = await Worker.start(loaded, { logger: quiet });
  });

  after(async () => {
    await worker?.stop(0);
    await server.stop();
    dir.remove();
  });

  let entries: DeadLetterEntry[] = [];

  it('all seven arrive, one each, and the sources are acknowledged', async () => {
    await waitFor(`LLEN ${DLQ} >= ${cases.length}`, () => client.llen(DLQ), { until: (n) => n >= cases.length, timeoutMs: 10_000 });
    await sleep(500); // anything late (a second entry, a late timeout result) would show up now
    await worker?.stop();
    worker = undefined;
    entries = await listDeadLetters(client, DLQ);
    assert.equal(entries.length, cases.length);
    assert.deepEqual(entries.map((e) => e.reason).sort(), cases.map((c) => c.reason).sort());
    for (const c of cases) {
      if (c.source.kind === 'list') {
        assert.equal(await client.llen(c.source.key), 0, `${c.source.key} is empty`);
        assert.deepEqual(await client.keys(`{${c.source.key}}:processing:*`), [], `${c.source.key}: nothing left in processing`);
      }
    }
    const pending = (await client.xpending('s:deliveries', 'g')) as [number];
    assert.equal(pending[0], 0, 'the stream entry was acknowledged');
    for (const c of cases)
      assert.equal(await client.llen(`${c.reason.replaceAll('_', '-')}:out`), 0, `${c.reason}: nothing reached the output`);
  });

  for (const c of cases) {
    it(`${c.reason}: payload byte for byte, attempts, error, pipeline, source, times`, () => {
      const entry = entries.find((e) => e.reason === c.reason);
      assert.ok(entry, `no ${c.reason} entry`);
      assert.ok(payloadBytes(entry).equals(c.payload), `payload ${payloadBytes(entry).toString('hex')} ≠ ${c.payload.toString('hex')}`);
      const utf8 = Buffer.from(c.payload.toString('utf8'), 'utf8').equals(c.payload);
      assert.equal(entry.payload_encoding, utf8 ? 'utf8' : 'base64');
      assert.equal(entry.attempts, c.attempts);
      assert.match(entry.error, c.error);
      assert.equal(entry.pipeline, c.reason.replaceAll('_', '-'));
      assert.deepEqual(entry.source, c.source);
      if (c.source.kind === 'stream') {
        assert.equal(entry.message_id, streamEntryId);
        assert.deepEqual(entry.fields, { body: '{"id":7}', origin: 'test' });
      } else {
        assert.ok(entry.message_id.length > 0);
        assert.equal(entry.fields, undefined);
      }
      const first = Date.parse(entry.first_failure_at);
      const last = Date.parse(entry.last_failure_at);
      const dead = Date.parse(entry.dead_lettered_at);
      assert.ok(
        first >= started - 5 && first <= last && last <= dead && dead <= Date.now(),
        `times ${entry.first_failure_at} ${entry.last_failure_at} ${entry.dead_lettered_at}`,
      );
      assert.ok(last - first >= (c.spanMs ?? 0), `${c.reason}: failures ${last - first} ms apart, expected ≥ ${c.spanMs ?? 0}`);
    });
  }

  it('a plain error with retryable: false is a permanent failure too, with the default dead letter', async () => {
    const yaml = pipelineYaml(
      'flag',
      {},
      `${list('q:flag')}\nhandler: {module: "{{support}}/handlers/permanent.mjs"}\nresilience: {max_retries: 5, retry_delay_ms: 10}\n`,
    );
    const pipeline = await dir.load('flag', yaml);
    await client.lpush('q:flag', '{"id":8,"permanent":"flag"}');
    const w = await Worker.start([pipeline], { logger: quiet });
    try {
      await waitFor(`LLEN q:flag:dead >= 1`, () => client.llen('q:flag:dead'), { until: (n) => n >= 1, timeoutMs: 5000 });
      await sleep(100); // an idle period on purpose: a second dead letter would show in it
    } finally {
      await w.stop();
    }
    const [entry, ...rest] = await listDeadLetters(client, 'q:flag:dead');
    assert.equal(rest.length, 0);
    assert.equal(entry?.reason, 'permanent_error');
    assert.equal(entry?.attempts, 1);
    assert.equal(entry?.error, 'not retryable 8');
  });

  it('`pythia dlq list` shows one line per reason', async () => {
    const file = files.get('retries_exhausted') as string;
    const [result, json] = await Promise.all([
      pythia(['dlq', 'list', file]),
      pythia(['dlq', 'list', file, '--format', 'json', '--limit', '3']),
    ]);
    if (process.env.PYTHIA_SHOW_DLQ) process.stdout.write(`\n$ pythia dlq list ${path.basename(file)}\n${result.stdout}${result.stderr}\n`);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.equal(lines.length, cases.length);
    for (const c of cases) assert.equal(lines.filter((l) => l.includes(` ${c.reason} `)).length, 1, `${c.reason} in:\n${result.stdout}`);
    assert.equal(json.code, 0, json.stderr);
    const parsed = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; entry: DeadLetterEntry });
    assert.equal(parsed.length, 3);
    assert.deepEqual(
      parsed.map((p) => p.entry.reason),
      entries.slice(0, 3).map((e) => e.reason),
    );
  });
});
