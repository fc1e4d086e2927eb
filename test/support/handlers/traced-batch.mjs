// Test batch handler for tracing (handler.batch): makes one span of its own for the whole call (as a bulk
// database or HTTP client would), logs through context.logger, and answers each message with its own
// traceparent and the batch call's. A span `row` per message is made in that message's own trace
// context (message.traceparent, as docs/tracing.md shows). body.fail "permanent" → a PermanentError element; body.hang → the
// call waits for context.signal (the processing timeout), then throws its reason.
import { context as otel, propagation, trace } from '@opentelemetry/api';
import { PermanentError } from '../../../src/index.ts';

export async function handleBatch(messages, context) {
  if (messages.some((m) => m.body.hang)) {
    await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
    throw context.signal.reason;
  }
  await trace.getTracer('test-handler').startActiveSpan('bulk insert', async (span) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    span.end();
  });
  for (const m of messages) trace.getTracer('test-handler').startSpan('row', {}, propagation.extract(otel.active(), m)).end();
  context.logger.info({ ids: messages.map((m) => m.body.id) }, 'batch handled');
  return messages.map((m) =>
    m.body.fail === 'permanent'
      ? new PermanentError(`row ${m.body.id} can never be written`)
      : { id: m.body.id, traceparent: m.traceparent, batchTraceparent: context.traceparent },
  );
}
