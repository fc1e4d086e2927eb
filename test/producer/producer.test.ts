// The Producer writes what each source kind reads, headers included, and says what Redis confirmed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadPipelineFile, type LoadedPipeline } from '../../src/config/index.ts';
import { InvalidBodyError, ProduceError, Producer } from '../../src/producer/producer.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { freePort } from '../helpers/redis-server.ts';
import { pipelineYaml } from '../helpers/pipelines.ts';
import { waitFor } from '../helpers/wait.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { listDeadLetters, pythia } from '../resilience/helpers.ts';

const quiet = createLogger('silent');
type Seen = { id: number; headers: Record<string, string>; raw: string };

describe('Producer', () => {
  const redis = usePrivateRedis({ exportUrl: true });
  const file = (name: string, source: string, extra = '') =>
    redis.dir.write(
      name,
      pipelineYaml(name, { source, handler: '{module: "{{support}}/handlers/headers.mjs"}', output: `{list: "${name}:out"}` }, extra),
    );
  const load = async (path: string): Promise<LoadedPipeline> => {
    const result = await loadPipelineFile(path);
    assert.ok(result.ok);
    return result.pipeline;
  };
  const outputs = async (key: string) => (await redis.client.lrange(key, 0, -1)).reverse().map((r) => JSON.parse(r) as Seen);

  it('list: bodies without headers stay plain, headers reach message.headers, order is kept', async () => {
    const path = file('plist', '{list: {key: "q:plist"}}');
    const producer = await Producer.fromPipeline<{ id: number }>(path);
    try {
      assert.deepEqual(await producer.send({ id: 1 }), {});
      await producer.send({ id: 2 }, { headers: { traceparent: '00-abc-01', tenant: 'acme' } });
      await producer.sendMany([{ body: { id: 3 } }, { body: { id: 4 }, headers: { tenant: 'b' } }]);
    } finally {
      await producer.close();
    }
    assert.equal(await redis.client.lindex('q:plist', -1), '{"id":1}', 'a body without headers is stored exactly as JSON');
    const worker = await Worker.start([await load(path)], { logger: quiet });
    try {
      await waitFor('4 in plist:out', async () => (await redis.client.llen('plist:out')) === 4);
      const seen = await outputs('plist:out');
      assert.deepEqual(
        seen.map((s) => s.id),
        [1, 2, 3, 4],
      );
      assert.deepEqual(
        seen.map((s) => s.headers),
        [{}, { traceparent: '00-abc-01', tenant: 'acme' }, {}, { tenant: 'b' }],
      );
      assert.equal(seen[1]?.raw, '{"id":2}', 'message.raw is the body without the envelope');
    } finally {
      await worker.stop();
    }
  });

  it('stream: returns entry ids (an explicit one too), writes body + h:<name> fields, never trims by default', async () => {
    const path = file('pstream', '{stream: {key: "q:pstream", max_stream_length: 5}}');
    // The group exists before the entries (a group created later starts at $ and skips them).
    await redis.client.xgroup('CREATE', 'q:pstream', 'pythia', '0', 'MKSTREAM');
    const producer = await Producer.fromPipeline(path);
    try {
      const explicit = await producer.send({ id: 0 }, { id: '1-1', headers: { tenant: 'acme' } });
      assert.equal(explicit.id, '1-1');
      const results = await producer.sendMany(Array.from({ length: 49 }, (_, i) => ({ body: { id: i + 1 } })));
      assert.equal(results.length, 49);
      assert.ok(results.every((r) => typeof r.id === 'string' && /^\d+-\d+$/.test(r.id)));
    } finally {
      await producer.close();
    }
    assert.equal(await redis.client.xlen('q:pstream'), 50, 'nothing trimmed although max_stream_length is 5');
    const [[, fields]] = (await redis.client.xrange('q:pstream', '-', '+', 'COUNT', 1)) as [string, string[]][] as [[string, string[]]];
    assert.deepEqual(fields, ['body', '{"id":0}', 'h:tenant', 'acme']);
    const worker = await Worker.start([await load(path)], { logger: quiet });
    try {
      await waitFor('50 in pstream:out', async () => (await redis.client.llen('pstream:out')) === 50);
      assert.deepEqual((await outputs('pstream:out'))[0]?.headers, { tenant: 'acme' });
    } finally {
      await worker.stop();
    }
  });

  it('channel: says how many subscribers received each message; headers arrive', async () => {
    const path = file('pchan', '{channel: {channels: ["c:pchan"]}}');
    const worker = await Worker.start([await load(path)], { logger: quiet });
    const producer = await Producer.fromPipeline(path);
    try {
      assert.deepEqual(await producer.send({ id: 1 }, { headers: { h: 'v' } }), { receivers: 1 });
      await waitFor('1 in pchan:out', async () => (await redis.client.llen('pchan:out')) === 1);
      assert.deepEqual((await outputs('pchan:out'))[0]?.headers, { h: 'v' });
    } finally {
      await producer.close();
      await worker.stop();
    }
  });

  it('a command handler receives the headers in its request', async () => {
    const handler = `{command: ["${process.execPath}", "{{support}}/handlers/headers-command.mjs"]}`;
    const path = redis.dir.write(
      'pcmd',
      pipelineYaml('pcmd', { source: '{list: {key: "q:pcmd"}}', handler, output: '{list: "pcmd:out"}' }),
    );
    const worker = await Worker.start([await load(path)], { logger: quiet });
    const producer = await Producer.fromPipeline(path);
    try {
      await producer.send({ id: 5 }, { headers: { traceparent: 't-5' } });
      await waitFor('1 in pcmd:out', async () => (await redis.client.llen('pcmd:out')) === 1);
      assert.deepEqual(JSON.parse((await redis.client.lindex('pcmd:out', 0)) as string), { id: 5, headers: { traceparent: 't-5' } });
    } finally {
      await producer.close();
      await worker.stop();
    }
  });

  it('a dead letter keeps the headers and `pythia dlq replay` sends them again', async () => {
    const path = redis.dir.write(
      'pdead',
      pipelineYaml('pdead', {
        source: '{list: {key: "q:pdead"}}',
        handler: '{module: "{{support}}/handlers/headers.mjs"}',
        output: '{list: "pdead:out"}',
        resilience: '{max_retries: 0}',
      }),
    );
    const worker = await Worker.start([await load(path)], { logger: quiet });
    const producer = await Producer.fromPipeline(path);
    try {
      await producer.send({ id: 7, fail: 'once' }, { headers: { tenant: 'acme' } });
      await waitFor('1 in q:pdead:dead', async () => (await redis.client.llen('q:pdead:dead')) === 1);
      const [entry] = await listDeadLetters(redis.client, 'q:pdead:dead');
      assert.deepEqual(entry?.headers, { tenant: 'acme' });
      assert.equal(entry?.payload, '{"id":7,"fail":"once"}', 'the payload is the body, without the envelope');
      const replay = await pythia(['dlq', 'replay', path, '--all']);
      assert.equal(replay.code, 0, replay.stderr);
      await waitFor('1 in pdead:out', async () => (await redis.client.llen('pdead:out')) === 1);
      assert.deepEqual((await outputs('pdead:out'))[0]?.headers, { tenant: 'acme' });
    } finally {
      await producer.close();
      await worker.stop();
    }
  });

  it('refuses a body the pipeline would dead-letter (message.schema), sending nothing; validate: false sends it', async () => {
    const schema = redis.dir.write('order.schema', '').replace(/\.yml$/, '.json');
    (await import('node:fs')).writeFileSync(
      schema,
      JSON.stringify({ type: 'object', required: ['amount'], properties: { amount: { type: 'number' } } }),
    );
    const path = redis.dir.write(
      'pvalid',
      pipelineYaml('pvalid', {
        source: '{list: {key: "q:pvalid"}}',
        message: `{format: json, schema: "${schema}"}`,
        handler: '{module: "{{support}}/handlers/headers.mjs"}',
      }),
    );
    const producer = await Producer.fromPipeline(path);
    try {
      await assert.rejects(
        producer.sendMany([{ body: { amount: 1 } }, { body: { amount: 'x' } }]),
        (error: Error) =>
          error instanceof InvalidBodyError && /message 2: body does not match message.schema: \/amount must be number/.test(error.message),
      );
      assert.equal(await redis.client.llen('q:pvalid'), 0, 'nothing sent');
      await assert.rejects(producer.send(Buffer.from('{bad')), /invalid JSON/);
    } finally {
      await producer.close();
    }
    const loose = await Producer.fromPipeline(path, { validate: false });
    await loose.send({ amount: 'x' });
    await loose.close();
    assert.equal(await redis.client.llen('q:pvalid'), 1);
  });

  it('inline options: a redis section (or URL) and a target, without a pipeline file', async () => {
    const producer = Producer.connect<string>({
      redis: { url: redis.server.url, connection_timeout_ms: 2000 },
      target: { stream: 'q:inline' },
      format: 'text',
    });
    try {
      const { id } = await producer.send('hello', { headers: { a: 'b' } });
      assert.deepEqual(await redis.client.xrange('q:inline', '-', '+'), [[id, ['body', 'hello', 'h:a', 'b']]]);
    } finally {
      await producer.close();
    }
    assert.throws(() => Producer.connect({ redis: { port: 'x' }, target: { list: 'l' } }), /invalid redis options: \/port/);
  });

  it('an unreachable Redis is an error within the connection timeout, from the API and from `pythia produce`', async () => {
    const port = await freePort();
    const producer = Producer.connect({
      redis: { url: `redis://:s3cret@127.0.0.1:${port}`, connection_timeout_ms: 300 },
      target: { list: 'l' },
    });
    await assert.rejects(
      producer.send({ id: 1 }),
      (error: Error) =>
        error instanceof ProduceError &&
        /cannot reach Redis at 127\.0\.0\.1:\d+\/0 within 300 ms/.test(error.message) &&
        !error.message.includes('s3cret'),
    );
    await producer.close();
    const path = redis.dir.write(
      'pdown',
      `name: pdown\nredis: {url: "redis://127.0.0.1:${port}", connection_timeout_ms: 500}\nsource: {list: {key: q}}\nhandler: {module: "{{support}}/handlers/headers.mjs"}\n`,
    );
    const cli = await pythia(['produce', path, '--count', '5']);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /cannot reach Redis at 127\.0\.0\.1:\d+\/0 within 500 ms/);
    assert.match(cli.stderr, /sent 0 of 5 messages/);
  });

  it('`pythia produce` reports only what Redis confirmed (WRONGTYPE), and rejects a body that is not JSON', async () => {
    const path = file('pwrong', '{stream: {key: "q:pwrong"}}');
    await redis.client.set('q:pwrong', 'a string, not a stream');
    const wrong = await pythia(['produce', path, '--count', '100']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /Redis refused XADD q:pwrong: WRONGTYPE/);
    assert.match(wrong.stderr, /sent 0 of 100 messages/);
    assert.doesNotMatch(wrong.stdout, /sent 100/);
    const bad = await pythia(['produce', path, '--count', '1', '--body', '{bad']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /message 1: invalid JSON/);
    await redis.client.del('q:pwrong');
    const good = await pythia(['produce', path, '--count', '3', '--body', '{"id":{{seq}}}']);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /^sent 3 messages to pwrong/);
    assert.equal(await redis.client.xlen('q:pwrong'), 3);
  });
});
