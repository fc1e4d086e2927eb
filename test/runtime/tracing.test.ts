// Tracing (docs/tracing.md) against a real OTLP/HTTP receiver: the spans a message leaves, from the
// producer's traceparent to the handler, its output write or its dead letter.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { loadPipelineFile, type LoadedPipeline } from '../../src/config/index.ts';
import { Producer } from '../../src/producer/producer.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { KIND, OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.ts';
import { pipelineYaml } from '../helpers/pipelines.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { waitFor } from '../helpers/wait.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

/** A logger whose JSON lines the test reads. */
function capturingLogger(): { logger: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('info', sink), lines };
}

describe('tracing', () => {
  const redis = usePrivateRedis({ exportUrl: true });
  let receiver: OtlpReceiver;
  before(async () => {
    receiver = await OtlpReceiver.start();
  });
  after(() => receiver.close());

  const load = async (path: string): Promise<LoadedPipeline> => {
    const result = await loadPipelineFile(path);
    assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.issues));
    return result.pipeline;
  };
  const tracing = (extra = '') =>
    `tracing: {enabled: true, endpoint: "${receiver.url}", protocol: http/json, service_name: orders-worker, headers: {x-api-key: "s3cret-key-value"}${extra}}\n`;
  const spansNamed = (name: string, trace?: string): ReceivedSpan[] =>
    receiver.spans.filter((s) => s.name === name && (trace === undefined || s.traceId === trace));

  it('continues the producer trace: a process span per attempt, the handler inside it, output and dead letter as children', async () => {
    const path = redis.dir.write(
      'traced',
      pipelineYaml(
        'traced',
        {
          source: '{list: {key: "q:traced"}}',
          handler: '{module: "{{support}}/handlers/traced.mjs"}',
          output: '{list: "traced:out"}',
          resilience: '{max_retries: 0}',
        },
        tracing(),
      ),
    );
    const { logger, lines } = capturingLogger();
    const worker = await Worker.start([await load(path)], { logger });
    const producer = await Producer.fromPipeline(path);
    try {
      await producer.send({ id: 1 }, { headers: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'vendor=abc' } });
      await producer.send({ id: 2, fail: 'permanent' }, { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } });
      await waitFor('the output', async () => (await redis.client.llen('traced:out')) === 1);
      await waitFor('the dead letter', async () => (await redis.client.llen('q:traced:dead')) === 1);
    } finally {
      await producer.close();
      await worker.stop(); // flushes the spans
    }
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
});
