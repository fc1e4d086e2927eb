import {
  context as contextApi,
  type Attributes,
  defaultTextMapGetter,
  isSpanContextValid,
  type Link,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Tracer,
} from '@opentelemetry/api';
import { errorText } from '../errors.ts';
import { scrubSecrets } from '../redis/redact.ts';
import { ActiveSpan, propagator } from './active-span.ts';
import type { AttemptOutcome, AttemptTrace, HandlerLike, TracedMessage, WriteSpan } from './types.ts';

/** What every attempt span of one pipeline shares. */
export interface AttemptSpanSettings {
  tracer: Tracer;
  pipeline: string;
  /** Streams: the consumer group (messaging.consumer.group.name). */
  consumerGroup: string | undefined;
}

/** The destination a message was read from: the list or stream key, or the channel. */
export function destinationOf(message: TracedMessage): string {
  const origin = message.delivery.origin;
  return origin.key ?? origin.channel ?? '';
}

/** An error as the span records it: the message scrubbed of known credentials, as in logs. */
function recordable(error: unknown): { name: string; message: string; stack?: string } {
  const name = error instanceof Error ? error.name : 'Error';
  const stack = error instanceof Error && error.stack ? scrubSecrets(error.stack) : undefined;
  return { name, message: scrubSecrets(errorText(error)), stack };
}

export function markFailed(span: Span, error: unknown): void {
  const exception = recordable(error);
  span.recordException(exception);
  span.setStatus({ code: SpanStatusCode.ERROR, message: exception.message });
  span.setAttribute('error.type', exception.name);
}

class OtelWriteSpan implements WriteSpan {
  constructor(private readonly span: Span) {}
  end(error?: unknown): void {
    if (error !== undefined) markFailed(this.span, error);
    this.span.end();
  }
}

/**
 * The CONSUMER span `process <destination>` of one attempt (OpenTelemetry messaging semantic
 * conventions). Its parent is the producer's span when the message's traceparent says sampled; when the
 * producer's trace was sampled out, the span starts a trace of its own (sampled per sample_ratio) with a
 * link to the producer's span instead: as a child of an unsampled parent it would be dropped whatever
 * this worker's sampling says. A retry links to the attempt before it.
 */
export class OtelAttemptTrace extends ActiveSpan implements AttemptTrace {
  private ended = false;

  constructor(
    private readonly settings: AttemptSpanSettings,
    message: TracedMessage,
    previous: AttemptTrace | undefined,
  ) {
    const { delivery } = message;
    const destination = destinationOf(message);
    const links: Link[] = [];
    let parent = ROOT_CONTEXT;
    const extracted = propagator.extract(ROOT_CONTEXT, message.headers, defaultTextMapGetter);
    const remote = trace.getSpanContext(extracted);
    if (remote && isSpanContextValid(remote)) {
      if (remote.traceFlags & TraceFlags.SAMPLED) parent = extracted;
      else links.push({ context: remote, attributes: { 'pythia.link': 'producer' } });
    }
    if (previous instanceof OtelAttemptTrace) {
      links.push({ context: previous.span.spanContext(), attributes: { 'pythia.link': 'previous_attempt' } });
    }
    const attributes: Attributes = {
      'messaging.system': 'redis',
      'messaging.destination.name': destination,
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.message.id': delivery.id,
      'messaging.message.body.size': message.raw.length,
      'pythia.pipeline': settings.pipeline,
      'pythia.attempt': message.attempt,
      'pythia.delivery_count': delivery.deliveryCount + message.attempt - 1,
      'pythia.source.kind': delivery.origin.kind,
    };
    if (settings.consumerGroup !== undefined) attributes['messaging.consumer.group.name'] = settings.consumerGroup;
    super(settings.tracer.startSpan(`process ${destination}`, { kind: SpanKind.CONSUMER, attributes, links }, parent), parent);
  }

  run<M, C>(handler: HandlerLike<M, C>, message: M, context: C): Promise<unknown> {
    return contextApi.with(this.active, handler.invoke, handler, message, context);
  }

  /** The span's ids, for the links of the batch call that handles the message. */
  get spanContext(): SpanContext {
    return this.span.spanContext();
  }

  /** Links the attempt's span to the span of the batch call that handles it (handler.batch). */
  linkBatch(batch: SpanContext): void {
    if (!this.ended) this.span.addLink({ context: batch, attributes: { 'pythia.link': 'batch' } });
  }

  failed(error: unknown): void {
    if (!this.ended) markFailed(this.span, error);
  }

  outputWrite(destination: string): WriteSpan {
    return this.write(destination, 'output', undefined);
  }

  deadLetterWrite(destination: string, reason: string): WriteSpan {
    return this.write(destination, 'dead_letter', reason);
  }

  private write(destination: string, kind: 'output' | 'dead_letter', reason: string | undefined): WriteSpan {
    const attributes: Attributes = {
      'messaging.system': 'redis',
      'messaging.destination.name': destination,
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'pythia.write': kind,
    };
    if (reason !== undefined) attributes['pythia.dead_letter.reason'] = reason;
    return new OtelWriteSpan(this.settings.tracer.startSpan(`send ${destination}`, { kind: SpanKind.PRODUCER, attributes }, this.active));
  }

  end(outcome: AttemptOutcome): void {
    if (this.ended) return;
    this.ended = true;
    this.span.setAttribute('pythia.outcome', outcome);
    this.span.end();
  }
}
