// Tracing (docs/tracing.md) against a real OTLP/HTTP receiver: the spans a message leaves, from the
// producer's traceparent to the handler, its output write or its dead letter.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Producer, type PipelineProducerOptions } from '../../src/producer/producer.ts';
import type { Logger } from 'pino';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { KIND, type ReceivedSpan } from '../helpers/otlp-receiver.ts';
import { pipelineYaml, SUPPORT, type PipelineSections } from '../helpers/pipelines.ts';
import { freePort } from '../helpers/redis-server.ts';
import { listDeadLetters, pythia } from '../resilience/helpers.ts';
import { waitFor } from '../helpers/wait.ts';
import { capturingLogger, useTracingSuite } from '../helpers/tracing.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const TRACED = '{module: "{{support}}/handlers/traced.mjs"}';

describe('tracing', () => {
  const { redis, receiver, load } = useTracingSuite();
  const tracing = (extra = '') =>
    `tracing: {enabled: true, endpoint: "${receiver.url}", protocol: http/json, service_name: orders-worker, headers: {x-api-key: "s3cret-key-value"}${extra}}\n`;
  /**
   * Writes a pipeline file: the list `q:<name>`, the traced handler, the output `<name>:out` and `extra`
   * (its tracing section); `sections` override these (undefined leaves one out).
   */
  const write = (name: string, extra: string, sections: PipelineSections = {}): string =>
    redis.dir.write(
      name,
      pipelineYaml(name, { source: `{list: {key: "q:${name}"}}`, handler: TRACED, output: `{list: "${name}:out"}`, ...sections }, extra),
    );
  /** A tracing section exporting to 127.0.0.1:<port> with a secret export header (that no log line may show). */
  const tracingTo = (port: number) =>
    `tracing: {enabled: true, endpoint: "http://127.0.0.1:${port}", protocol: http/json, headers: {authorization: "Bearer very-secret-token"}}\n`;
  /**
   * Starts a worker on the pipeline file (with `env` set while it starts) and a Producer of it, runs `send`,
   * then closes the producer and stops the worker, which flushes the spans. Returns how long the stop took (ms).
   */
  async function sendThrough(
    file: string,
    send: (producer: Producer) => Promise<void>,
    options: { logger?: Logger; producer?: PipelineProducerOptions; env?: Record<string, string> } = {},
  ): Promise<number> {
    const env = options.env ?? {};
    Object.assign(process.env, env);
    let worker: Worker;
    try {
      worker = await Worker.start([await load(file)], { logger: options.logger ?? createLogger('silent') });
    } finally {
      for (const name of Object.keys(env)) delete process.env[name];
    }
    const producer = await Producer.fromPipeline(file, options.producer);
    let stopMs: number;
    try {
      await send(producer);
    } finally {
      await producer.close();
      const started = Date.now();
      await worker.stop();
      stopMs = Date.now() - started;
    }
    return stopMs;
  }
  const spansNamed = (name: string, trace?: string): ReceivedSpan[] =>
    receiver.spans.filter((s) => s.name === name && (trace === undefined || s.traceId === trace));

  it('continues the producer trace: a process span per attempt, the handler inside it, output and dead letter as children', async () => {
    const path = write('traced', tracing(), { resilience: '{max_retries: 0}' });
    const { logger, lines } = capturingLogger();
    await sendThrough(
      path,
      async (producer) => {
        await producer.send({ id: 1 }, { headers: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'vendor=abc' } });
        await producer.send({ id: 2, fail: 'permanent' }, { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } });
        await waitFor('the output', async () => (await redis.client.llen('traced:out')) === 1);
        await waitFor('the dead letter', async () => (await redis.client.llen('q:traced:dead')) === 1);
      },
      { logger },
    );
    process.stdout.write(`${receiver.tree(TRACE)}\n`);
    const process1 = spansNamed('process q:traced', TRACE);
    assert.equal(process1.length, 2, receiver.tree(TRACE));
    const good = process1.find((s) => s.attributes['pythia.outcome'] === 'ok');
    const bad = process1.find((s) => s.attributes['pythia.outcome'] === 'dead_lettered');
    assert.ok(good && bad, receiver.tree(TRACE));
    for (const span of [good, bad]) {
      assert.equal(span.parentSpanId, PARENT, 'a child of the producer span of the traceparent');
      assert.equal(span.kind, KIND.consumer);
      assert.equal(span.service, 'orders-worker');
      assert.equal(span.attributes['messaging.system'], 'redis');
      assert.equal(span.attributes['messaging.destination.name'], 'q:traced');
      assert.equal(span.attributes['messaging.operation.type'], 'process');
      assert.equal(span.attributes['pythia.pipeline'], 'traced');
      assert.equal(span.attributes['pythia.attempt'], 1);
      assert.equal(typeof span.attributes['messaging.message.id'], 'string');
      assert.equal(span.attributes['messaging.consumer.group.name'], undefined, 'lists have no consumer group');
      const handlerSpan = receiver.spans.find((s) => s.name === 'handler work' && s.parentSpanId === span.spanId);
      assert.ok(handlerSpan, `the handler's own span is a child of its process span\n${receiver.tree(TRACE)}`);
    }
    assert.equal(good.status.code, 0);
    const output = receiver.spans.filter((s) => s.parentSpanId === good.spanId && s.name === 'send traced:out');
    assert.equal(output.length, 1, receiver.tree(TRACE));
    assert.equal(output[0]?.kind, KIND.producer);
    assert.equal(output[0]?.attributes['pythia.write'], 'output');

    assert.equal(bad.status.code, 2, 'an error span');
    assert.match(bad.status.message ?? '', /cannot process 2/);
    assert.equal(bad.attributes['error.type'], 'PermanentError');
    const exception = bad.events.find((e) => e.name === 'exception');
    assert.match(String(exception?.attributes['exception.message']), /cannot process 2/);
    const dead = receiver.spans.filter((s) => s.parentSpanId === bad.spanId && s.name === 'send q:traced:dead');
    assert.equal(dead.length, 1, receiver.tree(TRACE));
    assert.equal(dead[0]?.attributes['pythia.write'], 'dead_letter');
    assert.equal(dead[0]?.attributes['pythia.dead_letter.reason'], 'permanent_error');

    // The handler saw its process span as traceparent (tracestate carried through).
    const result = JSON.parse((await redis.client.lindex('traced:out', 0)) as string) as { traceparent: string };
    assert.equal(result.traceparent, `00-${TRACE}-${good.spanId}-01`);
    // Log lines of the attempt carry the ids; the export headers never reach a log line.
    const handled = lines.find((l) => l.msg === 'handled' && l.id === 1);
    assert.deepEqual([handled?.trace_id, handled?.span_id], [TRACE, good.spanId]);
    const deadLine = lines.find((l) => l.msg === 'dead-lettering message');
    assert.deepEqual([deadLine?.trace_id, deadLine?.span_id], [TRACE, bad.spanId]);
    assert.ok(!JSON.stringify(lines).includes('s3cret-key-value'));
    assert.ok(receiver.requests.every((r) => r.headers['x-api-key'] === 's3cret-key-value' && r.path === '/v1/traces'));
  });

  it('streams: the consumer group; a sampled-out producer trace is linked, not parented; a retry links to the attempt before', async () => {
    const path = write('tstream', tracing(), {
      source: '{stream: {key: "s:traced", consumer_group: workers}}',
      resilience: '{max_retries: 2, retry_delay_ms: 10, retry_max_delay_ms: 10}',
    });
    const unsampled = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    await sendThrough(path, async (producer) => {
      await producer.send({ id: 10 }, { headers: { traceparent: `00-${unsampled}-${PARENT}-00` } });
      await producer.send({ id: 11, fail: 'once' });
      await waitFor('both outputs', async () => (await redis.client.llen('tstream:out')) === 2);
    });
    const spans = spansNamed('process s:traced');
    assert.ok(spans.every((s) => s.attributes['messaging.consumer.group.name'] === 'workers'));
    assert.ok(
      spans.every((s) => /^\d+-\d+$/.test(String(s.attributes['messaging.message.id']))),
      'stream entry ids',
    );
    assert.equal(receiver.spans.filter((s) => s.traceId === unsampled).length, 0, 'nothing recorded in the sampled-out trace');
    const linked = spans.find((s) => s.links.some((l) => l.traceId === unsampled));
    assert.ok(linked, 'the process span links to the sampled-out producer span');
    assert.equal(linked.parentSpanId, '', 'a root of its own trace');
    assert.deepEqual(linked.links[0], { traceId: unsampled, spanId: PARENT, attributes: { 'pythia.link': 'producer' } });
    const [first, second] = spans.filter((s) => s.attributes['messaging.message.id'] !== linked.attributes['messaging.message.id']);
    assert.ok(first && second, 'two attempts of the failing-once message');
    const [one, two] = first.attributes['pythia.attempt'] === 1 ? [first, second] : [second, first];
    assert.deepEqual([one.attributes['pythia.outcome'], one.status.code], ['retried', 2]);
    assert.deepEqual([two.attributes['pythia.attempt'], two.attributes['pythia.outcome'], two.status.code], [2, 'ok', 0]);
    assert.deepEqual(
      two.links.map((l) => [l.spanId, l.attributes['pythia.link']]),
      [[one.spanId, 'previous_attempt']],
    );
  });

  it('command handlers get the process span as traceparent: in the request, and as TRACEPARENT per message', async () => {
    const command = `["${process.execPath}", "{{support}}/handlers/trace-command.mjs"]`;
    const files = ['per-message', 'persistent'].map((mode) =>
      write(`tcmd-${mode}`, tracing(), { handler: `{command: ${command}, mode: ${mode}}` }),
    );
    const worker = await Worker.start(await Promise.all(files.map(load)), { logger: createLogger('silent') });
    try {
      for (const file of files) {
        const producer = await Producer.fromPipeline(file);
        await producer.send({ id: 20 }, { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } });
        await producer.close();
      }
      for (const mode of ['per-message', 'persistent'])
        await waitFor(`${mode} output`, async () => (await redis.client.llen(`tcmd-${mode}:out`)) === 1);
    } finally {
      await worker.stop();
    }
    for (const mode of ['per-message', 'persistent']) {
      const reply = JSON.parse((await redis.client.lindex(`tcmd-${mode}:out`, 0)) as string) as { traceparent: string; env: string | null };
      const span = spansNamed(`process q:tcmd-${mode}`, TRACE)[0];
      assert.ok(span, receiver.tree(TRACE));
      assert.equal(reply.traceparent, `00-${TRACE}-${span.spanId}-01`, mode);
      assert.equal(reply.env, mode === 'per-message' ? reply.traceparent : null, `${mode}: TRACEPARENT`);
    }
  });

  it('the Producer with tracing: true sends its span as traceparent; the process span is its child', async () => {
    const path = write('tprod', tracing());
    // The worker registers its tracer provider globally (none was): the producer's spans go through it.
    await sendThrough(
      path,
      async (producer) => {
        await producer.send({ id: 30 });
        await waitFor('the output', async () => (await redis.client.llen('tprod:out')) === 1);
      },
      { producer: { tracing: true } },
    );
    const send = spansNamed('send q:tprod')[0];
    assert.ok(send, 'the producer span');
    assert.equal(send.kind, KIND.producer);
    assert.equal(send.attributes['messaging.destination.name'], 'q:tprod');
    const processed = spansNamed('process q:tprod', send.traceId);
    assert.equal(processed.length, 1, receiver.tree(send.traceId));
    assert.equal(processed[0]?.parentSpanId, send.spanId);
    process.stdout.write(`${receiver.tree(send.traceId)}\n`);
  });

  it('pythia produce --header sends a traceparent; a dead letter keeps it, and its replay is processed in the same trace', async () => {
    const trace = 'cccccccccccccccccccccccccccccccc';
    const path = write('tcli', tracing(), { output: undefined, resilience: '{max_retries: 0}' });
    const worker = await Worker.start([await load(path)], { logger: createLogger('silent') });
    try {
      const args = ['--header', `traceparent=00-${trace}-${PARENT}-01`, '--header', 'tenant=a=b'];
      const sent = await pythia(['produce', path, '--count', '1', '--body', '{"id":40,"fail":"permanent"}', ...args]);
      assert.equal(sent.code, 0, sent.stderr);
      await waitFor('the dead letter', async () => (await redis.client.llen('q:tcli:dead')) === 1);
      const [entry] = await listDeadLetters(redis.client, 'q:tcli:dead');
      assert.deepEqual(entry?.headers, { traceparent: `00-${trace}-${PARENT}-01`, tenant: 'a=b' });
      const replay = await pythia(['dlq', 'replay', path, '--all']);
      assert.equal(replay.code, 0, replay.stderr);
      await waitFor(
        'the replay dead-lettered again',
        async () => (await redis.client.llen('q:tcli:dead')) === 1 && (await redis.client.llen('q:tcli')) === 0,
      );
      await waitFor('two process spans', async () => {
        await worker.pipelines[0]?.stop();
        return spansNamed('process q:tcli', trace).length === 2;
      });
    } finally {
      await worker.stop();
    }
    const spans = spansNamed('process q:tcli', trace);
    assert.ok(
      spans.every((s) => s.parentSpanId === PARENT && s.status.code === 2),
      receiver.tree(trace),
    );
    const bad = await pythia(['produce', path, '--count', '1', '--header', 'no-equals-sign']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--header wants name=value/);
  });

  it('exports protobuf by default, as the OpenTelemetry SDKs do', async () => {
    const path = write('tproto', `tracing: {enabled: true, endpoint: "${receiver.url}/"}\n`);
    const before = receiver.requests.length;
    await sendThrough(path, async (producer) => {
      await producer.send({ id: 50 });
      await waitFor('the output', async () => (await redis.client.llen('tproto:out')) === 1);
    });
    const requests = receiver.requests.slice(before);
    assert.ok(requests.length >= 1);
    assert.ok(requests.every((r) => r.contentType === 'application/x-protobuf' && r.path === '/v1/traces' && r.bytes > 0));
  });

  it('exports nothing when disabled (or OTEL_SDK_DISABLED=true), and handlers get no traceparent', async () => {
    const files = (
      [
        ['toff', `tracing: {enabled: false, endpoint: "${receiver.url}", protocol: http/json}\n`],
        ['tenv', tracing()],
      ] as const
    ).map(([name, extra]) => write(name, extra));
    const before = receiver.requests.length;
    process.env.OTEL_SDK_DISABLED = 'true';
    let worker: Worker;
    try {
      worker = await Worker.start(await Promise.all(files.map(load)), { logger: createLogger('silent') });
    } finally {
      delete process.env.OTEL_SDK_DISABLED;
    }
    try {
      for (const file of files) {
        const producer = await Producer.fromPipeline(file);
        await producer.send({ id: 60 }, { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } });
        await producer.close();
      }
      for (const name of ['toff', 'tenv']) await waitFor(`${name} output`, async () => (await redis.client.llen(`${name}:out`)) === 1);
    } finally {
      await worker.stop();
    }
    assert.equal(receiver.requests.length, before, 'no export request');
    for (const name of ['toff', 'tenv'])
      assert.deepEqual(JSON.parse((await redis.client.lindex(`${name}:out`, 0)) as string), { id: 60 }, 'no traceparent for the handler');
  });

  it('a collector that is down never blocks processing: messages flow, stop is bounded, the export headers are never logged', async () => {
    const port = await freePort();
    const path = write('tdown', tracingTo(port));
    const { logger, lines } = capturingLogger();
    const stopMs = await sendThrough(
      path,
      async (producer) => {
        await producer.sendMany(Array.from({ length: 50 }, (_, i) => ({ body: { id: i } })));
        await waitFor('50 outputs', async () => (await redis.client.llen('tdown:out')) === 50);
      },
      { logger },
    );
    // The spans still buffered get at most 5 s at shutdown (the exporter itself gives up after 10 s).
    assert.ok(stopMs < 20_000, `stop took ${stopMs} ms`);
    assert.ok(!JSON.stringify(lines).includes('very-secret-token'));
  });

  it('a collector that refuses the export: the failure is logged (without the export headers), messages are unaffected', async () => {
    const refusing = createServer((request, response) => {
      request.resume();
      request.on('end', () => response.writeHead(400, { 'content-type': 'application/json' }).end('{"message":"bad request"}'));
    });
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    const port = (refusing.address() as AddressInfo).port;
    const path = write('trefused', tracingTo(port));
    const { logger, lines } = capturingLogger();
    try {
      await sendThrough(
        path,
        async (producer) => {
          await producer.sendMany(Array.from({ length: 5 }, (_, i) => ({ body: { id: i } })));
          await waitFor('5 outputs', async () => (await redis.client.llen('trefused:out')) === 5);
        },
        { logger },
      );
    } finally {
      refusing.closeAllConnections();
      refusing.close();
    }
    const warning = lines.find((l) => String(l.msg).includes('exporting spans failed'));
    assert.ok(warning, JSON.stringify(lines.map((l) => l.msg)));
    assert.ok(!JSON.stringify(lines).includes('very-secret-token'));
  });

  it('sample_ratio 0 records only what a sampled traceparent asks for; a malformed traceparent is ignored', async () => {
    const sampled = 'dddddddddddddddddddddddddddddddd';
    const path = write('tsample', tracing(', sample_ratio: 0'));
    await sendThrough(path, async (producer) => {
      await producer.send({ id: 70 });
      await producer.send({ id: 71 }, { headers: { traceparent: '00-not-a-trace-01', tracestate: 'x'.repeat(100_000) } });
      await producer.send({ id: 72 }, { headers: { traceparent: `00-${sampled}-${PARENT}-01` } });
      await waitFor('3 outputs', async () => (await redis.client.llen('tsample:out')) === 3);
    });
    const spans = spansNamed('process q:tsample');
    assert.deepEqual(
      spans.map((s) => [s.traceId, s.parentSpanId]),
      [[sampled, PARENT]],
    );
    const outputs = (await redis.client.lrange('tsample:out', 0, -1)).map((r) => JSON.parse(r) as { id: number; traceparent?: string });
    const malformed = outputs.find((o) => o.id === 71);
    assert.match(String(malformed?.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/, 'a trace of its own, not sampled');
  });

  it('batch handlers: each message of a batch has its own process span, its output write or dead letter under it', async () => {
    const path = write('tbatch', tracing(), {
      handler: '{module: "{{support}}/handlers/batch.mjs", export: handleBatch, batch: {max_size: 3, max_wait_ms: 50}}',
      resilience: '{max_retries: 0}',
    });
    const traceparent = `00-${TRACE}-${PARENT}-01`;
    await sendThrough(path, async (producer) => {
      await producer.sendMany(
        [{ body: { id: 80 } }, { body: { id: 81, fail: 'permanent' } }, { body: { id: 82 } }].map((m) => ({
          ...m,
          headers: { traceparent },
        })),
      );
      await waitFor(
        '2 outputs and a dead letter',
        async () => (await redis.client.llen('tbatch:out')) === 2 && (await redis.client.llen('q:tbatch:dead')) === 1,
      );
    });
    const spans = spansNamed('process q:tbatch', TRACE);
    assert.equal(spans.length, 3, receiver.tree(TRACE));
    assert.deepEqual(spans.map((s) => s.attributes['pythia.outcome']).sort(), ['dead_lettered', 'ok', 'ok']);
    for (const span of spans) {
      assert.equal(span.parentSpanId, PARENT);
      const write = span.attributes['pythia.outcome'] === 'ok' ? 'send tbatch:out' : 'send q:tbatch:dead';
      assert.equal(receiver.spans.filter((s) => s.parentSpanId === span.spanId && s.name === write).length, 1, receiver.tree(TRACE));
    }
  });

  it('honours OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL and OTEL_SERVICE_NAME when the file leaves them out', async () => {
    const path = write('tenvvars', 'tracing: {enabled: true}\n');
    const variables = {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'from-env',
    };
    await sendThrough(
      path,
      async (producer) => {
        await producer.send({ id: 90 });
        await waitFor('the output', async () => (await redis.client.llen('tenvvars:out')) === 1);
      },
      { env: variables },
    );
    const [span] = spansNamed('process q:tenvvars');
    assert.equal(span?.service, 'from-env');
    assert.ok(receiver.requests.some((r) => r.path === '/v1/traces' && r.contentType === 'application/json'));
  });

  it('a pipeline without tracing imports nothing of OpenTelemetry; with tracing, the SDK is loaded then', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pythia-otel-load-'));
    try {
      for (const enabled of [false, true]) {
        const out = path.join(dir, `loaded-${enabled}`);
        writeFileSync(out, '');
        const child = spawnSync(
          process.execPath,
          ['--import', 'tsx', '--import', path.join(SUPPORT, 'tracing/load-register.mjs'), path.join(SUPPORT, 'tracing/load-probe.mts')],
          { env: { ...process.env, PROBE_OUT: out, TRACING: String(enabled) }, encoding: 'utf8', timeout: 60_000 },
        );
        assert.equal(child.status, 0, child.stderr);
        const loaded = readFileSync(out, 'utf8').split('\n').filter(Boolean);
        if (enabled) assert.ok(loaded.includes('@opentelemetry/sdk-trace-base') && loaded.includes('./otel-tracer.ts'), loaded.join(' '));
        else assert.deepEqual(loaded, []);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
