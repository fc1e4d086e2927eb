import type { Logger } from 'pino';

/** Where a message came from. */
export interface MessageOrigin {
  kind: 'list' | 'stream' | 'channel';
  /** The list or stream key. */
  key?: string;
  /** The channel a pub/sub message was published to. */
  channel?: string;
  /** The PSUBSCRIBE pattern that matched, for pattern subscriptions. */
  pattern?: string;
}

/** What a handler receives (docs/dsl-reference.md, handler; docs/command-handlers.md for the wire form). */
export interface Message<Body = unknown> {
  /** List: a per-process sequence id; stream: the entry id; channel: a per-process sequence id. */
  id: string;
  /** Parsed per message.format: JSON value, string (text) or Buffer (binary). */
  body: Body;
  /** The body's bytes exactly as the producer sent them (without the header envelope, when there was one). */
  raw: Buffer;
  /** Every field of a stream entry, header fields (h:<name>) included ({} for lists and channels). */
  fields: Record<string, string>;
  /** Headers the producer sent beside the body (trace context, tenant, content type...); {} when none. See docs/headers.md. */
  headers: Record<string, string>;
  source: MessageOrigin;
  /** 1-based attempt number within this worker, counting retries. */
  attempt: number;
  /** How many times Redis has delivered it (streams: the group's delivery count; others: equal to attempt). */
  deliveryCount: number;
  /** Epoch milliseconds when the worker received it. */
  receivedAt: number;
  /**
   * With tracing on (docs/tracing.md): the W3C traceparent of this message's `process` span (its
   * current attempt's); absent when tracing is off. A per-message handler finds the same in
   * context.traceparent; in a batch handler context.traceparent is the batch call's span, and this is
   * each message's own.
   */
  traceparent?: string;
  /** The W3C tracestate that goes with traceparent, when there is one. */
  tracestate?: string;
}

export interface HandlerContext {
  /** Fires on the processing timeout and when a forced shutdown gives up on the message. */
  signal: AbortSignal;
  logger: Logger;
  /** The pipeline's name. */
  pipeline: string;
  /**
   * With tracing on (docs/tracing.md): the W3C traceparent of this attempt's `process` span, to parent
   * spans made elsewhere (a module handler's instrumented calls already are its children). In a batch
   * handler: the span of the batch call (each message's own is message.traceparent).
   */
  readonly traceparent?: string;
  /** The W3C tracestate that goes with traceparent, when there is one. */
  readonly tracestate?: string;
}

/** A module handler: throw to retry, throw PermanentError to dead-letter, return a value to send it to output. */
export type Handler<Body = unknown, Result = unknown> = (message: Message<Body>, context: HandlerContext) => Promise<Result> | Result;

/**
 * A batch handler (handler.batch): receives up to max_size messages and returns one result per message,
 * in the same order. An element that is an Error fails that message alone (retried; a PermanentError or
 * an error with `retryable: false` dead-letters it); throwing fails every message of the batch.
 */
export type BatchHandler<Body = unknown, Result = unknown> = (
  messages: Message<Body>[],
  context: HandlerContext,
) => Promise<(Result | Error)[]> | (Result | Error)[];
