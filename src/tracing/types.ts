/**
 * What the dispatcher calls to trace a message (docs/tracing.md). Two implementations: the no-op one
 * below, used when a pipeline has tracing off (the hot path pays a method call per step), and the
 * OpenTelemetry one in otel-tracer.ts, loaded with import() only when tracing is on.
 */
import type { Logger } from 'pino';
import type { PipelineConfig } from '../config/index.ts';

/** What a pipeline's tracer is made from. */
export interface TracingSettings {
  pipeline: string;
  /** Streams: the consumer group, on every process span. */
  consumerGroup: string | undefined;
  tracing: PipelineConfig['tracing'];
  logger: Logger;
  /** The variables read for OTEL_* defaults; process.env unless a test gives others. */
  env?: NodeJS.ProcessEnv;
}

/** The part of the dispatcher's Work a trace reads (structural: the tracing layer knows no source). */
export interface TracedMessage {
  readonly delivery: {
    readonly id: string;
    readonly origin: { readonly kind: 'list' | 'stream' | 'channel'; readonly key?: string; readonly channel?: string };
    readonly deliveryCount: number;
  };
  readonly headers: Readonly<Record<string, string>>;
  readonly raw: Buffer;
  readonly attempt: number;
}

/** How an attempt ended (the span's pythia.outcome attribute). */
export type AttemptOutcome =
  /** Handled, its output written, acknowledged. */
  | 'ok'
  /** Failed; another attempt follows after the backoff. */
  | 'retried'
  /** Failed for good (or rejected before the handler: oversized, malformed); its dead letter was written. */
  | 'dead_lettered'
  /** Left unacknowledged for redelivery: failed while draining, abandoned at the grace period, or its dead letter could not be written. */
  | 'unfinished';

/** A write made on the message's behalf: the output, or the dead letter. */
export interface WriteSpan {
  /** Ends the write's span; with an error, as failed. */
  end(error?: unknown): void;
}

/** Log fields that tie a line to its span (`trace_id`, `span_id`); empty when tracing is off. */
export type TraceLogFields = Readonly<Record<string, string>>;

export interface HandlerLike<M, C> {
  invoke(message: M, context: C): Promise<unknown>;
}

/** One attempt's span: started by the dispatcher before the handler runs, ended once the message's fate is known. */
export interface AttemptTrace {
  /** W3C traceparent of the attempt's span, for command handlers (undefined when tracing is off). */
  readonly traceparent: string | undefined;
  /** W3C tracestate that goes with it. */
  readonly tracestate: string | undefined;
  readonly logFields: TraceLogFields;
  /** Invokes the handler with the attempt's span active in its async context (its own spans become children). */
  run<M, C>(handler: HandlerLike<M, C>, message: M, context: C): Promise<unknown>;
  /** Records the attempt's error: the exception event and the error status. */
  failed(error: unknown): void;
  /** A child span for the output write. */
  outputWrite(destination: string): WriteSpan;
  /** A child span for the dead-letter write. */
  deadLetterWrite(destination: string, reason: string): WriteSpan;
  /** Ends the span (once; later calls are ignored). */
  end(outcome: AttemptOutcome): void;
}

/** A message of a batch as the batch's span reads it: the message, and its attempt's span. */
export interface TracedBatchMember extends TracedMessage {
  readonly trace: AttemptTrace;
}

/**
 * One call of a batch handler (handler.batch): a span of its own, active while the call runs (a batch
 * serves messages of several traces, so none of theirs can be), linked to each message's process span
 * and each of those linked back to it.
 */
export interface BatchTrace {
  /** W3C traceparent of the batch's span (undefined when tracing is off). */
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
  /** trace_id and span_id of the batch's span, for the batch's context.logger. */
  readonly logFields: TraceLogFields;
  /** Calls the batch handler with the batch's span active in its async context. */
  run<M, C>(call: (messages: M, context: C) => Promise<unknown>, messages: M, context: C): Promise<unknown>;
  /** The call failed as a whole (threw, a malformed result, timed out, abandoned): records it and ends the span. */
  failed(error: unknown): void;
  /** The call returned one result per message, `failures` of them errors: ends the span (once; later calls are ignored). */
  end(failures: number): void;
}

/** A pipeline's tracer. */
export interface PipelineTracer {
  readonly enabled: boolean;
  /** The span of the message's current attempt (message.attempt is its number); a retry links to `previous`. */
  startAttempt(message: TracedMessage, previous?: AttemptTrace): AttemptTrace;
  /** The span of one batch handler call, for messages whose attempts have begun. */
  startBatch(members: readonly TracedBatchMember[]): BatchTrace;
  /** Exports what is buffered, waiting at most `timeoutMs`, then stops. Never throws. */
  shutdown(timeoutMs: number): Promise<void>;
}

const NO_FIELDS: TraceLogFields = Object.freeze({});
const NO_WRITE: WriteSpan = Object.freeze({ end() {} });

export const NO_ATTEMPT_TRACE: AttemptTrace = Object.freeze({
  traceparent: undefined,
  tracestate: undefined,
  logFields: NO_FIELDS,
  run<M, C>(handler: HandlerLike<M, C>, message: M, context: C): Promise<unknown> {
    return handler.invoke(message, context);
  },
  failed() {},
  outputWrite: () => NO_WRITE,
  deadLetterWrite: () => NO_WRITE,
  end() {},
});

export const NO_BATCH_TRACE: BatchTrace = Object.freeze({
  traceparent: undefined,
  tracestate: undefined,
  logFields: NO_FIELDS,
  run<M, C>(call: (messages: M, context: C) => Promise<unknown>, messages: M, context: C): Promise<unknown> {
    return call(messages, context);
  },
  failed() {},
  end() {},
});

export const NO_TRACER: PipelineTracer = Object.freeze({
  enabled: false,
  startAttempt: () => NO_ATTEMPT_TRACE,
  startBatch: () => NO_BATCH_TRACE,
  shutdown: () => Promise.resolve(),
});
