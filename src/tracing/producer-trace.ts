/**
 * The Producer's side of tracing (docs/tracing.md): a PRODUCER span `send <destination>` per message,
 * whose W3C context travels in the message's `traceparent` / `tracestate` headers. It uses only the
 * OpenTelemetry API (loaded with import() on the first send): spans go to the tracer provider the
 * application registered globally, or to the one it gives.
 */
import type { TracerProvider } from '@opentelemetry/api';

export type ProducerTracingOption = boolean | TracerProvider | undefined;

export interface MessageSendSpan {
  /** The headers to send: the caller's, with the span's traceparent (and tracestate) added. */
  readonly headers: Record<string, string>;
  /** Ends the span once Redis confirmed (with the stream entry id) or refused the write. */
  end(result: { id?: string; error?: unknown }): void;
}

export interface ProducerTracer {
  start(destination: string, headers: Record<string, string> | undefined, bodySize: number): MessageSendSpan;
}

const UNTRACED: MessageSendSpan['end'] = () => {};

export async function producerTracer(option: ProducerTracingOption): Promise<ProducerTracer | undefined> {
  if (!option) return undefined;
  const api = await import('@opentelemetry/api');
  const provider = option === true ? api.trace.getTracerProvider() : option;
  const tracer = provider.getTracer('pythia-worker/producer');
  return {
    start(destination, headers, bodySize) {
      // A traceparent the caller set is their context: sent as it is, without a span of ours.
      if (headers?.traceparent !== undefined) return { headers, end: UNTRACED };
      const span = tracer.startSpan(`send ${destination}`, {
        kind: api.SpanKind.PRODUCER,
        attributes: {
          'messaging.system': 'redis',
          'messaging.destination.name': destination,
          'messaging.operation.type': 'send',
          'messaging.operation.name': 'send',
          'messaging.message.body.size': bodySize,
        },
      });
      const carrier: Record<string, string> = { ...headers };
      api.propagation.inject(api.trace.setSpan(api.context.active(), span), carrier, api.defaultTextMapSetter);
      // Without a global propagator (the application registered none), the W3C form is written here.
      if (carrier.traceparent === undefined && span.spanContext().traceId !== api.INVALID_TRACEID) {
        const { traceId, spanId, traceFlags } = span.spanContext();
        carrier.traceparent = `00-${traceId}-${spanId}-0${(traceFlags & 1).toString(16)}`;
      }
      return {
        headers: carrier,
        end({ id, error }) {
          if (id !== undefined) span.setAttribute('messaging.message.id', id);
          if (error !== undefined) {
            const message = error instanceof Error ? error.message : String(error);
            span.recordException({ name: error instanceof Error ? error.name : 'Error', message });
            span.setStatus({ code: api.SpanStatusCode.ERROR, message });
          }
          span.end();
        },
      };
    },
  };
}
