import type { Logger } from 'pino';
import type { HandlerContext, Message } from '../handlers/types.ts';
import type { Delivery } from '../sources/source.ts';
import type { Headers } from '../redis/envelope.ts';
import type { Timer } from './clock.ts';
import type { AttemptTrace } from '../tracing/index.ts';

/** One message's life in this worker, across its attempts. */
export interface Work {
  delivery: Delivery;
  /** The body's bytes: the delivery's payload without its header envelope. */
  raw: Buffer;
  headers: Headers;
  /** The id its envelope carried (Python Pythia's message_id), which message.id is then. */
  messageId?: string;
  /** The delivered payload is what a dead letter keeps (Python Pythia's envelope; see Opened in decode.ts). */
  keepWhole?: boolean;
  body: unknown;
  attempt: number;
  firstFailureAt: number;
  /** The running attempt's context (it owns that attempt's AbortSignal; one batch's messages share one). */
  context: RunningContext | undefined;
  /** The retry timer while the message waits for its next attempt. */
  timer: Timer | undefined;
  /** The clock's now() after which the running attempt has timed out. */
  deadline: number;
  /**
   * Identifies the running handler attempt (0 when none runs: writing the output, being dead-lettered,
   * waiting for a retry); a result for an older (timed-out, abandoned) attempt is discarded.
   */
  attemptId: number;
  /** The span of the current (or last) attempt; the no-op one when tracing is off. */
  trace: AttemptTrace;
}

/** A running attempt's context as the dispatcher holds it: the handler's view, and a way to abort it. */
export interface RunningContext extends HandlerContext {
  abort(reason: unknown): void;
}

/** What the handler is given for the work's current attempt. */
export function messageFor(work: Work): Message {
  const delivery = work.delivery;
  const message: Message = {
    id: work.messageId ?? delivery.id,
    body: work.body,
    raw: work.raw,
    fields: delivery.fields,
    headers: work.headers,
    source: delivery.origin,
    attempt: work.attempt,
    deliveryCount: delivery.deliveryCount + work.attempt - 1,
    receivedAt: delivery.receivedAt,
  };
  const traceparent = work.trace.traceparent; // undefined when tracing is off
  if (traceparent !== undefined) withTraceContext(message, traceparent, work.trace.tracestate);
  return message;
}

function withTraceContext(message: Message, traceparent: string, tracestate: string | undefined): void {
  message.traceparent = traceparent;
  if (tracestate) message.tracestate = tracestate;
}

/**
 * The abort side of a handler's context: its `signal` is made on first use (AbortController is costly on
 * the hot path); an abort before that is kept, and the signal is born aborted. The first reason wins.
 * Runners listen through listenForAbort() (src/handlers/runner.ts: AbortHook), which makes no signal.
 */
export abstract class AbortableContext {
  private controller: AbortController | undefined;
  /** Why the call was aborted (kept also once the signal exists, for listenForAbort). */
  private abortedWith: { reason: unknown } | undefined;
  private abortListener: ((reason: unknown) => void) | undefined;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortedWith) this.controller.abort(this.abortedWith.reason);
    }
    return this.controller.signal;
  }

  listenForAbort(listener: (reason: unknown) => void): { reason: unknown } | undefined {
    if (this.abortedWith) return this.abortedWith;
    this.abortListener = listener;
    return undefined;
  }

  stopListening(): void {
    this.abortListener = undefined;
  }

  abort(reason: unknown): void {
    if (this.abortedWith) return;
    this.abortedWith = { reason };
    this.controller?.abort(reason);
    const listener = this.abortListener;
    this.abortListener = undefined;
    listener?.(reason);
  }
}

/**
 * The handler's context for one attempt; `signal` and `logger` are made on first use. Each attempt has
 * its own: a timed-out attempt that reads its signal late finds it aborted, never the signal of the retry
 * that replaced it.
 */
export class AttemptContext extends AbortableContext implements RunningContext {
  private childLogger: Logger | undefined;
  constructor(
    private readonly work: Work,
    private readonly attempt: number,
    private readonly parentLogger: Logger,
    readonly pipeline: string,
  ) {
    super();
  }

  get logger(): Logger {
    this.childLogger ??= this.parentLogger.child({ messageId: this.work.delivery.id, attempt: this.attempt, ...this.work.trace.logFields });
    return this.childLogger;
  }

  /** The W3C traceparent of this attempt's span (command handlers receive it); undefined when tracing is off. */
  get traceparent(): string | undefined {
    return this.work.trace.traceparent;
  }

  get tracestate(): string | undefined {
    return this.work.trace.tracestate;
  }
}
