import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { deadLetterLocation, replayTarget } from '../../src/dlq/location.ts';
import { replayDeadLetters } from '../../src/dlq/replay.ts';
import type { DeadLetterEntry } from '../../src/outputs/dead-letter.ts';
import { Producer } from '../../src/producer/producer.ts';
import { PipelineHarness } from '../../src/testing/index.ts';
import { keys } from '../../src/redis/keys.ts';
import { withScripts } from '../../src/redis/scripts.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { pipelineYaml, RECORD_HANDLER, SUPPORT, type PipelineSections } from '../helpers/pipelines.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { waitFor } from '../helpers/wait.ts';

const quiet = createLogger('silent');
const ECHO = '{module: "{{support}}/handlers/python-echo.mjs"}';
const PYTHON_WIRE = path.join(SUPPORT, 'python/pythia_wire.py');

type Seen = { id: string; body: unknown; headers: Record<string, string> };

/**
 * Envelopes byte for byte as Python Pythia's RedisListProducer writes them (json.dumps with
 * ensure_ascii=False: ", " and ": " separators, non-ASCII as UTF-8, null for a missing message_id).
 */
const PY = {
  order1:
    '{"body": {"order": 1, "customer": "Zoë", "lines": [{"sku": "ü-1", "qty": 2}]}, "headers": {"tenant": "acme"}, "message_id": "o-1"}',
  order2: '{"body": {"order": 2, "nested": {"a": {"b": [1, 2.5, null, true]}}}, "headers": {}, "message_id": null}',
  order3: '{"body": "{\\"order\\": 3}", "headers": {"trace": "00-ab-cd-01"}, "message_id": "o-3"}',
  order4:
    '{"body": {"order": 4, "note": "日本語 ✓"}, "headers": {"tenant": "acme"}, "message_id": "o-4", "timestamp": "2025-01-02T03:04:05.678901"}',
  urgent1: '{"body": {"order": 91, "priority": true}, "headers": {"lane": "fast"}, "message_id": "p-1"}',
  urgent2: '{"body": {"order": 92, "priority": true}, "headers": {"lane": "fast"}, "message_id": "p-2"}',
};

/**
 * A pipeline as Python Pythia's producers feed it: `q:<name>` taken from the left, Pythia envelopes, the echo
 * handler, results in `<name>:out`. `sections` override these (undefined leaves one out).
 */
function pythonPipeline(name: string, sections: PipelineSections = {}): string {
  return pipelineYaml(name, {
    source: `{list: {key: "q:${name}", pop_from: left}}`,
    message: '{envelope: pythia}',
    handler: ECHO,
    output: `{list: "${name}:out"}`,
    ...sections,
  });
}

/** The output list (LPUSHed results), oldest first. */
async function outputs(client: { lrange(key: string, a: number, b: number): Promise<string[]> }, key: string): Promise<Seen[]> {
  return (await client.lrange(key, 0, -1)).reverse().map((r) => JSON.parse(r) as Seen);
}

describe('Python Pythia compatibility (real Redis)', () => {
  const redis = usePrivateRedis({ exportUrl: true });
  const load = (name: string, sections: PipelineSections = {}) => redis.dir.load(name, pythonPipeline(name, sections));

  /** Runs the pipeline until the list `key` holds `count` items, then stops the worker. */
  async function runUntil(loaded: Awaited<ReturnType<typeof load>>, what: string, key: string, count: number): Promise<void> {
    const worker = await Worker.start([loaded], { logger: quiet });
    await waitFor(what, () => redis.client.llen(key), { until: (n) => n >= count });
    await worker.stop();
  }

  it('pop_from: left with envelope pythia: RPUSHed messages FIFO, LPUSHed priority messages first, bodies, headers and ids as Python sent them', async () => {
    const name = 'py-order';
    const loaded = await load(name, { concurrency: 1 });
    const client = redis.client;
    for (const m of [PY.order1, PY.order2, PY.order3, PY.order4]) await client.rpush(`q:${name}`, m);
    await client.lpush(`q:${name}`, PY.urgent1);
    await client.lpush(`q:${name}`, PY.urgent2);
    await runUntil(loaded, 'six results', `${name}:out`, 6);
    const seen = await outputs(client, `${name}:out`);
    assert.deepEqual(
      seen.map((s) => (s.body as { order: number }).order),
      [92, 91, 1, 2, 3, 4],
      'priority (LPUSH) first, last sent first; then RPUSH order',
    );
    assert.deepEqual(seen[2], {
      id: 'o-1',
      body: { order: 1, customer: 'Zoë', lines: [{ sku: 'ü-1', qty: 2 }] },
      headers: { tenant: 'acme' },
    });
    assert.deepEqual(seen[3]?.body, { order: 2, nested: { a: { b: [1, 2.5, null, true] } } });
    assert.deepEqual(seen[3]?.headers, {});
    assert.match(seen[3]?.id ?? '', /:\d+$/, 'no message_id: the delivery id');
    assert.deepEqual(seen[4], { id: 'o-3', body: { order: 3 }, headers: { trace: '00-ab-cd-01' } }, 'a pre-serialized JSON string body');
    assert.deepEqual(seen[5], { id: 'o-4', body: { order: 4, note: '日本語 ✓' }, headers: { tenant: 'acme' } });
    assert.equal(await client.llen(`q:${name}`), 0);
  });

  it('message.format text: str bodies, hex-encoded binary and dict bodies as the exact text Python wrote', async () => {
    const name = 'py-text';
    const loaded = await load(name, { message: '{envelope: pythia, format: text}', concurrency: 1 });
    const client = redis.client;
    await client.rpush(
      `q:${name}`,
      '{"body": "héllo wörld\\n\\ttab \\"q\\" \\\\ back", "headers": {}, "message_id": "t-1"}',
      '{"body": "ff00fe7f80", "headers": {"content": "bytes"}, "message_id": null}',
      '{"body": {"k": "v", "n": [1, 2]}, "headers": {}, "message_id": "t-3"}',
    );
    await runUntil(loaded, 'three results', `${name}:out`, 3);
    const seen = await outputs(client, `${name}:out`);
    assert.equal(seen[0]?.body, 'héllo wörld\n\ttab "q" \\ back');
    assert.equal(seen[1]?.body, 'ff00fe7f80');
    assert.deepEqual(Buffer.from(seen[1]?.body as string, 'hex'), Buffer.from([0xff, 0, 0xfe, 0x7f, 0x80]));
    assert.deepEqual(seen[1]?.headers, { content: 'bytes' });
    assert.equal(seen[2]?.body, '{"k": "v", "n": [1, 2]}', "Python's spacing kept");
  });

  it('a payload that is not an envelope is an invalid_envelope dead letter, byte for byte', async () => {
    const name = 'py-invalid';
    const loaded = await load(name);
    const client = redis.client;
    await client.rpush(`q:${name}`, '{"id": 1}', 'plain text', '[1, 2]', '{"body": 1, "headers": "x"}');
    await runUntil(loaded, 'four dead letters', `q:${name}:dead`, 4);
    const dead = (await client.lrange(`q:${name}:dead`, 0, -1)).map((d) => JSON.parse(d) as DeadLetterEntry).reverse();
    assert.deepEqual(
      dead.map((d) => [d.reason, d.payload]),
      [
        ['invalid_envelope', '{"id": 1}'],
        ['invalid_envelope', 'plain text'],
        ['invalid_envelope', '[1, 2]'],
        ['invalid_envelope', '{"body": 1, "headers": "x"}'],
      ],
    );
    assert.match(dead[0]?.error ?? '', /no "body" member/);
    assert.equal(await client.llen(`${name}:out`), 0);
  });

  it('a dead-lettered envelope keeps its message_id and headers, and a replay puts it back whole at the end taken last', async () => {
    const name = 'py-replay';
    const loaded = await load(name, { resilience: '{max_retries: 0}' });
    const client = redis.client;
    const failing = '{"body": {"fail": "yes", "ü": 1}, "headers": {"tenant": "acme"}, "message_id": "bad-1"}';
    await client.rpush(`q:${name}`, failing);
    await runUntil(loaded, 'a dead letter', `q:${name}:dead`, 1);
    const [stored] = await client.lrange(`q:${name}:dead`, 0, -1);
    const entry = JSON.parse(stored as string) as DeadLetterEntry;
    assert.equal(entry.reason, 'permanent_error');
    assert.equal(entry.message_id, 'bad-1');
    assert.deepEqual(entry.headers, { tenant: 'acme' });
    assert.equal(entry.envelope, 'pythia');
    assert.equal(entry.payload, failing, 'the whole envelope, as delivered');
    // Messages waiting: the replay goes behind them (RPUSH, since consumers take from the left).
    await client.rpush(`q:${name}`, '{"body": {"waiting": 1}, "headers": {}, "message_id": null}');
    const report = await replayDeadLetters(client, deadLetterLocation(loaded), replayTarget(loaded), { pipeline: name });
    assert.equal(report.replayed, 1);
    assert.deepEqual(await client.lrange(`q:${name}`, 0, -1), ['{"body": {"waiting": 1}, "headers": {}, "message_id": null}', failing]);
  });

  it("recovery with pop_from: left puts a dead consumer's items back on the left, taken next in their original order", async () => {
    const name = 'py-recover';
    const key = `q:${name}`;
    const loaded = await load(name, { concurrency: 1 });
    const client = redis.client;
    const env = (n: number) => `{"body": {"n": ${n}}, "headers": {}, "message_id": "r-${n}"}`;
    // A consumer that died holding r-1 (taken first) and r-2: its processing list has the newest on the left.
    await client.lpush(keys.processing(key, 'dead-one'), env(1), env(2));
    await client.sadd(keys.consumers(key), 'dead-one');
    await client.rpush(key, env(3), env(4));
    await runUntil(loaded, 'four results', `${name}:out`, 4);
    assert.deepEqual(
      (await outputs(client, `${name}:out`)).map((s) => s.id),
      ['r-1', 'r-2', 'r-3', 'r-4'],
    );
    assert.equal(await client.exists(keys.processing(key, 'dead-one')), 0);
  });

  it('a stop that leaves a message unfinished hands it back to the left: taken next, before the ones behind it', async () => {
    const name = 'py-stop';
    const key = `q:${name}`;
    const loaded = await load(name, { handler: RECORD_HANDLER, concurrency: 1, output: undefined, shutdown: '{grace_period_ms: 0}' });
    const client = redis.client;
    const env = (n: number, sleep: number) => `{"body": {"id": ${n}, "sleep": ${sleep}}, "headers": {}, "message_id": "s-${n}"}`;
    await client.rpush(key, env(1, 3000), env(2, 0), env(3, 0));
    const worker = await Worker.start([loaded], { logger: quiet });
    await waitFor('s-1 taken', () => client.llen(key), { until: (n) => n === 2 });
    await worker.stop(0);
    assert.deepEqual(await client.lrange(key, 0, -1), [env(1, 3000), env(2, 0), env(3, 0)]);
  });

  it('pop_from: left with delivery at-most-once: Python order too', async () => {
    const name = 'py-at-most-once';
    const loaded = await load(name, { source: `{list: {key: "q:${name}", pop_from: left, delivery: at-most-once}}`, concurrency: 1 });
    const client = redis.client;
    const env = (n: number) => `{"body": {"n": ${n}}, "headers": {}, "message_id": "a-${n}"}`;
    await client.rpush(`q:${name}`, env(1), env(2), env(3));
    await client.lpush(`q:${name}`, env(0));
    await runUntil(loaded, 'four results', `${name}:out`, 4);
    assert.deepEqual(
      (await outputs(client, `${name}:out`)).map((s) => s.id),
      ['a-0', 'a-1', 'a-2', 'a-3'],
    );
  });

  it('the fetch, pop and reconcile scripts put items back at the end they take from (byte budget, lost fetch reply)', async () => {
    const client = withScripts(redis.server.client());
    try {
      for (const side of ['left', 'right'] as const) {
        const queue = `q:budget-${side}`;
        const items = ['item-1', 'item-2', 'item-3', 'item-4'];
        // Producers push to the other end, so item-1 is the oldest at the end taken from.
        await (side === 'left' ? client.rpush(queue, ...items) : client.lpush(queue, ...items));
        const fetched = await client.pythiaListFetchBuffer(
          queue,
          `${queue}:processing`,
          `${queue}:deliveries`,
          `${queue}:ids`,
          3,
          100,
          13,
          side,
        );
        // The reply: the id before the first item's, the recovery counts (0: none), then the items.
        const base = fetched[0] as number;
        assert.deepEqual(fetched.slice(2).map(String), ['item-1', 'item-2'], `${side}: the third goes past 13 bytes`);
        const popped = await client.pythiaListPopBuffer(queue, `${queue}:oversized`, `${queue}:ids`, 3, 100, 7, side);
        assert.deepEqual(popped.map(String), ['item-3'], `${side}: at least one, the rest back`);
        const rest = await client.pythiaListPopBuffer(queue, `${queue}:oversized`, `${queue}:ids`, 3, 100, 100, side);
        assert.deepEqual(rest.map(String), ['item-4']);
        // After a reconnect: what this consumer does not know it holds goes back to the end taken from.
        await client.rpush(queue, 'waiting');
        const requeued = await client.pythiaListReconcile(`${queue}:processing`, queue, side, String(base + 1));
        assert.equal(requeued, 1);
        const next = await client.pythiaListPopBuffer(queue, `${queue}:oversized`, `${queue}:ids`, 1, 100, 100, side);
        assert.deepEqual(next.map(String), ['item-2'], `${side}: the requeued item is taken next`);
      }
    } finally {
      client.disconnect();
    }
  });

  it("streams: Python's body and header_<name> fields; an entry without a body field is invalid_envelope", async () => {
    const name = 'py-stream';
    const loaded = await load(name, { source: `{stream: {key: "s:${name}", start_id: "0"}}` });
    const client = redis.client;
    const id = await client.xadd(`s:${name}`, '*', 'body', '{"id": 1, "name": "Zoë"}', 'header_tenant', 'acme', 'header_trace', 't-1');
    await client.xadd(`s:${name}`, '*', 'id', '2');
    const worker = await Worker.start([loaded], { logger: quiet });
    await waitFor('a result and a dead letter', async () => (await client.llen(`${name}:out`)) + (await client.llen(`s:${name}:dead`)), {
      until: (n) => n >= 2,
    });
    await worker.stop();
    assert.deepEqual(await outputs(client, `${name}:out`), [
      { id, body: { id: 1, name: 'Zoë' }, headers: { tenant: 'acme', trace: 't-1' } },
    ]);
    const [dead] = (await client.lrange(`s:${name}:dead`, 0, -1)).map((d) => JSON.parse(d) as DeadLetterEntry);
    assert.equal(dead?.reason, 'invalid_envelope');
  });

  it('channels: an enveloped PUBLISH is unwrapped', async () => {
    const name = 'py-channel';
    const loaded = await load(name, { source: `{channel: {channels: ["ch:${name}"]}}` });
    const client = redis.client;
    const worker = await Worker.start([loaded], { logger: quiet });
    await waitFor('subscribed', async () => ((await client.pubsub('NUMSUB', `ch:${name}`)) as [string, number])[1], {
      until: (n) => n >= 1,
    });
    await client.publish(`ch:${name}`, '{"body": {"event": "é"}, "headers": {"h": "v"}, "message_id": "c-1"}');
    await waitFor('a result', () => client.llen(`${name}:out`), { until: (n) => n >= 1 });
    await worker.stop();
    assert.deepEqual(await outputs(client, `${name}:out`), [{ id: 'c-1', body: { event: 'é' }, headers: { h: 'v' } }]);
  });

  it('output.envelope: pythia: results are RPUSHed envelopes that a Python consumer (BLPOP) reads in order', async () => {
    const name = 'py-output';
    const loaded = await load(name, {
      source: `{list: {key: "q:${name}"}}`,
      message: undefined,
      concurrency: 1,
      output: `{list: "${name}:out", envelope: pythia}`,
    });
    const client = redis.client;
    await client.lpush(`q:${name}`, '{"n": 1, "s": "ü"}', '{"n": 2}', '{"n": 3}');
    await runUntil(loaded, 'three results', `${name}:out`, 3);
    const raw = await client.lrange(`${name}:out`, 0, -1);
    const first = JSON.parse(raw[0] as string) as { body: Seen; headers: unknown; message_id: unknown };
    assert.deepEqual(Object.keys(first), ['body', 'headers', 'message_id']);
    assert.deepEqual([first.body.body, first.headers, first.message_id], [{ n: 1, s: 'ü' }, {}, null]);
    const python = consumeWithPython(redis.server.port, `${name}:out`, 3);
    assert.deepEqual(
      python.map((m) => (m.body as Seen).body),
      [{ n: 1, s: 'ü' }, { n: 2 }, { n: 3 }],
    );
    assert.deepEqual(python[0]?.headers, {});
    assert.equal(python[0]?.message_id, null);
  });

  it("Producer.forPipeline follows the pipeline: RPUSH for pop_from left, the pipeline's envelope, format text bodies as strings", async () => {
    const name = 'py-for-pipeline';
    const loaded = await load(name, { message: '{envelope: pythia, format: text}', output: undefined });
    const producer = Producer.forPipeline(loaded, { redisUrl: redis.server.url });
    try {
      await producer.sendMany([
        { body: 'first ü' },
        { body: Buffer.from([0xff, 0x01]), headers: { content: 'hex' } },
        { body: 'now', priority: true },
      ]);
    } finally {
      await producer.close();
    }
    assert.deepEqual(await redis.client.lrange(`q:${name}`, 0, -1), [
      '{"body":"now","headers":{},"message_id":null}',
      '{"body":"first ü","headers":{},"message_id":null}',
      '{"body":"ff01","headers":{"content":"hex"},"message_id":null}',
    ]);
  });

  it('the test harness pushes Python envelopes from the right and reads RPUSHed results oldest first', async () => {
    const name = 'py-harness';
    const file = redis.dir.write(name, pythonPipeline(name, { concurrency: 1, output: `{list: "${name}:out", envelope: pythia}` }));
    const harness = await PipelineHarness.start(file, { redisUrl: redis.server.url });
    try {
      await harness.push([{ n: 1 }, { n: 2 }, { n: 3 }]);
      const results = await harness.results<{ body: Seen }>(3);
      assert.deepEqual(
        results.map((r) => r.body.body),
        [{ n: 1 }, { n: 2 }, { n: 3 }],
      );
    } finally {
      await harness.stop();
    }
  });

  it("the Producer with envelope 'pythia' on a stream writes RedisStreamsProducer's fields: body and header_<name>", async () => {
    const producer = Producer.connect({
      redis: redis.server.url,
      target: { stream: 's:py-producer' },
      envelope: 'pythia',
      format: 'binary',
    });
    try {
      await producer.send(Buffer.from('{"id": 1}'), { headers: { tenant: 'acme' } });
      await producer.send(Buffer.from([0xff, 0x00]));
    } finally {
      await producer.close();
    }
    const entries = (await redis.client.xrange('s:py-producer', '-', '+')).map(([, fields]) => fields);
    assert.deepEqual(entries, [
      ['body', '{"id": 1}', 'header_tenant', 'acme'],
      ['body', 'ff00'],
    ]);
  });

  it("the Producer with envelope 'pythia' writes what Python Pythia's consumer reads, priority messages first", async () => {
    const key = 'q:py-producer';
    const producer = Producer.connect({ redis: redis.server.url, target: { list: key }, envelope: 'pythia' });
    try {
      await producer.sendMany([
        { body: { n: 1, text: 'Zoë ✓' }, headers: { tenant: 'acme' }, id: 'm-1' },
        { body: { n: 2, deep: { a: [1, { b: null }] } } },
        { body: { n: 3, urgent: true }, priority: true, id: 'p-1' },
      ]);
      await producer.send({ n: 4 });
      const streamProducer = Producer.connect({ redis: redis.server.url, target: { stream: 's' } });
      await assert.rejects(streamProducer.send({}, { priority: true }), /priority applies to list sources only/);
      await streamProducer.close();
    } finally {
      await producer.close();
    }
    const [head] = await redis.client.lrange(key, 0, 0);
    assert.equal(head, '{"body":{"n":3,"urgent":true},"headers":{},"message_id":"p-1"}');
    const python = consumeWithPython(redis.server.port, key, 4);
    assert.deepEqual(python, [
      { body: { n: 3, urgent: true }, headers: {}, message_id: 'p-1' },
      { body: { n: 1, text: 'Zoë ✓' }, headers: { tenant: 'acme' }, message_id: 'm-1' },
      { body: { n: 2, deep: { a: [1, { b: null }] } }, headers: {}, message_id: null },
      { body: { n: 4 }, headers: {}, message_id: null },
    ]);
  });
});

/** Pops `count` items from the left with real Python and returns what Python Pythia's list consumer makes of them. */
function consumeWithPython(port: number, key: string, count: number): { body: unknown; headers: unknown; message_id: unknown }[] {
  const result = spawnSync('python3', [PYTHON_WIRE, String(port), 'consume', key, String(count)], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { body: unknown; headers: unknown; message_id: unknown });
}
