import { type Context, defaultTextMapSetter, type Span, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { TraceLogFields } from './types.ts';

export const propagator = new W3CTraceContextPropagator();

/**
 * A started span, active in a context of its own: the ids its log lines carry, and the W3C trace context
 * (traceparent, tracestate) a handler sees, injected once on first use. The span of an attempt and the
 * span of a batch call are both one.
 */
export abstract class ActiveSpan {
  protected readonly active: Context;
  private carrier: Record<string, string> | undefined;
  readonly logFields: TraceLogFields;

  protected constructor(
    protected readonly span: Span,
    parent: Context,
  ) {
    this.active = trace.setSpan(parent, span);
    const ids = span.spanContext();
    this.logFields = { trace_id: ids.traceId, span_id: ids.spanId };
  }

  private get propagated(): Record<string, string> {
    if (!this.carrier) {
      this.carrier = {};
      propagator.inject(this.active, this.carrier, defaultTextMapSetter);
    }
    return this.carrier;
  }

  get traceparent(): string | undefined {
    return this.propagated.traceparent;
  }

  get tracestate(): string | undefined {
    return this.propagated.tracestate;
  }
}
