// Test batch handler for tracing (handler.batch): makes one span of its own for the whole call (as a bulk
// database or HTTP client would), logs through context.logger, and answers each message with its own
// traceparent and the batch call's. body.fail "permanent" → a PermanentError element; body.hang → the
// call waits for context.signal (the processing timeout), then throws its reason.
import { trace } from '@opentelemetry/api';
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
  context.logger.info({ ids: messages.map((m) => m.body.id) }, 'batch handled');
  return messages.map((m) =>
    m.body.fail === 'permanent'
      ? new PermanentError(`row ${m.body.id} can never be written`)
      : { id: m.body.id, traceparent: m.traceparent, batchTraceparent: context.traceparent },
  );
}
