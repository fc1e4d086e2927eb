// Test handler for tracing: makes a span of its own (through the global OpenTelemetry API, as an
// instrumented HTTP or database client would), logs through context.logger, and returns the
// traceparent it was given. body.fail "permanent" throws a PermanentError (dead-lettered at once);
// "once" fails the first attempt only.
import { trace } from '@opentelemetry/api';
import { PermanentError } from '../../../src/index.ts';

export default async function traced(message, context) {
  const body = message.body ?? {};
  await trace.getTracer('test-handler').startActiveSpan('handler work', async (span) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    span.end();
  });
  context.logger.info({ id: body.id }, 'handled');
  if (body.fail === 'permanent') throw new PermanentError(`cannot process ${body.id}`);
  if (body.fail === 'once' && message.attempt === 1) throw new Error(`failing once ${body.id}`);
  return { id: body.id, traceparent: context.traceparent };
}
