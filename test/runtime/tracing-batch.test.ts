// Tracing of batch handlers (docs/tracing.md, docs/batch-handlers.md) against a real OTLP/HTTP receiver:
// the span of each batch call, active while the handler runs and linked to each message's process span;
// each message's own trace context, for module handlers (message.traceparent) and in the elements of a
// persistent batch request.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Producer } from '../../src/producer/producer.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { KIND, type ReceivedSpan } from '../helpers/otlp-receiver.ts';
import { pipelineYaml } from '../helpers/pipelines.ts';
import { waitFor } from '../helpers/wait.ts';
import { capturingLogger, useTracingSuite } from '../helpers/tracing.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const OTHER = 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee';
const PARENT = '00f067aa0ba902b7';

interface Echo {
  id: number;
  traceparent?: string | null;
  batchTraceparent?: string | null;
  env?: string | null;
}

/** The span id a W3C traceparent names, checking its trace id. */
function spanOf(traceparent: string | null | undefined, span: ReceivedSpan | undefined): void {
  assert.ok(span, `no span for ${traceparent}`);
  assert.equal(traceparent, `00-${span.traceId}-${span.spanId}-01`);
}

describe('tracing: batch handlers', () => {
  const { redis, receiver, load } = useTracingSuite();
  const tracing = 'tracing: {enabled: true, endpoint: "{{receiver}}", protocol: http/json}\n';
  const write = (name: string, handler: string, extra: string, resilience = '{max_retries: 0}'): string =>
    redis.dir.write(
      name,
      pipelineYaml(
        name,
        { source: `{list: {key: "q:${name}"}}`, handler, concurrency: 20, output: `{list: "${name}:out"}`, resilience },
        extra.replace('{{receiver}}', receiver.url),
      ),
    );
  const outputs = async (name: string): Promise<Echo[]> =>
    (await redis.client.lrange(`${name}:out`, 0, -1)).map((r) => JSON.parse(r) as Echo);
  /** Batch spans carry messaging.batch.message_count; a message's process span does not. */
  const batchSpans = (name: string): ReceivedSpan[] =>
    receiver.spans.filter((s) => s.name === `process ${name}` && s.attributes['messaging.batch.message_count'] !== undefined);

  it('module batch handler: a batch span, active in the call and linked both ways to the messages; each message has its own traceparent', async () => {
    const batch = '{module: "{{support}}/handlers/traced-batch.mjs", export: handleBatch, batch: {max_size: 4, max_wait_ms: 300}}';
    const traced = write('tb', batch, tracing);
    const untraced = write('tboff', batch, '');
    const { logger, lines } = capturingLogger();
    const worker = await Worker.start([await load(traced), await load(untraced)], { logger });
    try {
      const producer = await Producer.fromPipeline(traced);
      await producer.sendMany([
        { body: { id: 1 }, headers: { traceparent: `00-${TRACE}-${PARENT}-01` } },
        { body: { id: 2 }, headers: { traceparent: `00-${TRACE}-${PARENT}-01` } },
        { body: { id: 3 }, headers: { traceparent: `00-${OTHER}-${PARENT}-01` } },
        { body: { id: 4, fail: 'permanent' } },
      ]);
      await producer.close();
      const off = await Producer.fromPipeline(untraced);
      await off.sendMany([{ body: { id: 5 } }, { body: { id: 6 } }]);
      await off.close();
      await waitFor(
        '3 outputs and a dead letter',
        async () => (await redis.client.llen('tb:out')) === 3 && (await redis.client.llen('q:tb:dead')) === 1,
      );
      await waitFor('the untraced outputs', async () => (await redis.client.llen('tboff:out')) === 2);
    } finally {
      await worker.stop(); // flushes the spans
    }
    const batches = batchSpans('q:tb');
    assert.ok(batches.length >= 1, receiver.spans.map((s) => s.name).join(', '));
    process.stdout.write(`${batches.map((b) => receiver.tree(b.traceId)).join('\n')}\n`);
    assert.equal(
      batches.reduce((sum, b) => sum + Number(b.attributes['messaging.batch.message_count']), 0),
      4,
      'every message in one batch call',
    );
    const messageSpans = receiver.spans.filter((s) => s.name === 'process q:tb' && !batches.includes(s));
    assert.equal(messageSpans.length, 4);
    for (const b of batches) {
      assert.equal(b.kind, KIND.consumer);
      assert.equal(b.parentSpanId, '', 'a trace of its own: its messages may belong to several');
      assert.equal(b.attributes['messaging.destination.name'], 'q:tb');
      assert.equal(b.attributes['messaging.operation.type'], 'process');
      assert.equal(b.attributes['pythia.pipeline'], 'tb');
      const own = receiver.spans.filter((s) => s.name === 'bulk insert' && s.parentSpanId === b.spanId && s.traceId === b.traceId);
      assert.equal(own.length, 1, `the handler's span is a child of the batch span\n${receiver.tree(b.traceId)}`);
      assert.equal(b.links.length, b.attributes['messaging.batch.message_count']);
      for (const link of b.links) {
        assert.equal(link.attributes['pythia.link'], 'message');
        const message = messageSpans.find((s) => s.spanId === link.spanId && s.traceId === link.traceId);
        assert.ok(message, 'a link to a message process span');
        assert.deepEqual(
          message.links.filter((l) => l.attributes['pythia.link'] === 'batch').map((l) => [l.traceId, l.spanId]),
          [[b.traceId, b.spanId]],
          'and that span links back to the batch span',
        );
      }
    }
    assert.equal(
      batches.reduce((sum, b) => sum + Number(b.attributes['pythia.batch.failed_count']), 0),
      1,
      'the PermanentError element',
    );
    // A span made from message.traceparent is a child of that message's process span.
    for (const message of messageSpans) {
      const rows = receiver.spans.filter((s) => s.name === 'row' && s.parentSpanId === message.spanId && s.traceId === message.traceId);
      assert.equal(rows.length, 1, receiver.tree(message.traceId));
    }
    // Each message's process span continues its producer's trace, as without batches.
    assert.deepEqual(messageSpans.filter((s) => s.traceId === TRACE && s.parentSpanId === PARENT).length, 2);
    assert.deepEqual(messageSpans.filter((s) => s.traceId === OTHER && s.parentSpanId === PARENT).length, 1);

    // message.traceparent is the message's own process span; context.traceparent the batch call's.
    const results = await outputs('tb');
    assert.deepEqual(results.map((r) => r.id).sort(), [1, 2, 3]);
    for (const result of results) {
      const message = messageSpans.find((s) => result.traceparent?.includes(s.spanId));
      spanOf(result.traceparent, message);
      assert.equal(message?.traceId, result.id === 3 ? OTHER : TRACE);
      const batchSpan = batches.find((b) => b.links.some((l) => l.spanId === message?.spanId));
      spanOf(result.batchTraceparent, batchSpan);
    }
    // The batch's context.logger carries the batch span's ids.
    const logged = lines.filter((l) => l.msg === 'batch handled' && l.pipeline !== 'tboff' && l.trace_id !== undefined);
    assert.ok(logged.length >= 1, JSON.stringify(lines.filter((l) => l.msg === 'batch handled')));
    for (const line of logged) assert.ok(batches.some((b) => b.traceId === line.trace_id && b.spanId === line.span_id));

    // Tracing off: no trace context anywhere, no span exported for that pipeline.
    assert.deepEqual(
      (await outputs('tboff')).map((r) => Object.keys(r)),
      [['id'], ['id']],
    );
    assert.equal(receiver.spans.filter((s) => s.name.includes('tboff')).length, 0);
  });

  it('a batch call that times out: the batch span ends with the timeout as its error', async () => {
    const batch = '{module: "{{support}}/handlers/traced-batch.mjs", export: handleBatch, batch: {max_size: 2, max_wait_ms: 50}}';
    const path = write('tbhang', batch, tracing, '{max_retries: 0, processing_timeout_ms: 300}');
    const worker = await Worker.start([await load(path)], { logger: createLogger('silent') });
    try {
      const producer = await Producer.fromPipeline(path);
      await producer.sendMany([{ body: { id: 1, hang: true } }, { body: { id: 2, hang: true } }]);
      await producer.close();
      await waitFor('both dead-lettered', async () => (await redis.client.llen('q:tbhang:dead')) === 2);
    } finally {
      await worker.stop();
    }
    const batches = batchSpans('q:tbhang');
    assert.ok(batches.length >= 1);
    for (const b of batches) {
      assert.equal(b.status.code, 2, receiver.tree(b.traceId));
      assert.equal(b.attributes['error.type'], 'TimeoutError');
      assert.match(b.status.message ?? '', /timed out after 300 ms/);
    }
  });

  it('persistent command batches: each element of the request carries its own traceparent, the line the batch span', async () => {
    const handler = `{command: ["${process.execPath}", "{{support}}/handlers/trace-command.mjs"], mode: persistent, batch: {max_size: 3, max_wait_ms: 300}}`;
    const path = write('tbcmd', handler, tracing);
    const worker = await Worker.start([await load(path)], { logger: createLogger('silent') });
    try {
      const producer = await Producer.fromPipeline(path);
      await producer.sendMany([1, 2, 3].map((id) => ({ body: { id }, headers: { traceparent: `00-${TRACE}-${PARENT}-01` } })));
      await producer.close();
      await waitFor('3 outputs', async () => (await redis.client.llen('tbcmd:out')) === 3);
    } finally {
      await worker.stop();
    }
    const batches = batchSpans('q:tbcmd');
    assert.ok(batches.length >= 1);
    const results = await outputs('tbcmd');
    assert.equal(results.length, 3);
    const seen = new Set<string>();
    for (const result of results) {
      const message = receiver.spans.find(
        (s) => s.name === 'process q:tbcmd' && s.traceId === TRACE && result.traceparent?.includes(s.spanId),
      );
      spanOf(result.traceparent, message);
      assert.equal(message?.parentSpanId, PARENT);
      seen.add(String(message?.spanId));
      spanOf(
        result.batchTraceparent,
        batches.find((b) => b.links.some((l) => l.spanId === message?.spanId)),
      );
      assert.equal(result.env, null, 'no TRACEPARENT variable for a persistent handler');
    }
    assert.equal(seen.size, 3, 'each element its own span');
  });
});
