import { types } from 'node:util';
import type { Logger } from 'pino';
import type { HandlerRunner } from '../handlers/runner.ts';
import type { Message } from '../handlers/types.ts';
import { AbortableContext, messageFor, type RunningContext, type Work } from './attempt.ts';
import type { Clock, Timer } from './clock.ts';
import type { BatchTrace, PipelineTracer } from '../tracing/index.ts';

/** handler.batch, as the dispatcher reads it. */
export interface BatchSettings {
  maxSize: number;
  maxWaitMs: number;
}

/** Where each message's attempt ends: the dispatcher's per-message success and failure paths. */
export interface BatchOutcomes {
  succeeded(work: Work, attemptId: number, result: unknown, started: number): void;
  failed(work: Work, attemptId: number, error: unknown, started: number): void;
}

export interface BatcherParts {
  settings: BatchSettings;
  handler: HandlerRunner;
  clock: Clock;
  processingTimeoutMs: number;
  logger: Logger;
  pipeline: string;
  outcomes: BatchOutcomes;
  /** The span of each batch call (the no-op tracer when tracing is off). */
  tracer: PipelineTracer;
}

/** What a batch handler returned is not one result per message: every message of the batch fails (retryable). */
export class BatchResultError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BatchResultError';
  }
}

/**
 * Collects messages whose attempt has begun (first attempts and retries alike; each already holds its
 * concurrency slot) into batches for a batch handler (handler.batch). A batch is handed over when it has
 * max_size messages, or max_wait_ms after its first message arrived. The processing timeout runs from
 * the hand-over, for the whole call: every message of the batch has the same deadline and one shared
 * AbortSignal. The handler's answer is taken apart again: each message's attempt ends on its own, as if
 * it had been handled alone (output, ack, retry, dead letter, metrics per message).
 */
export class Batcher {
  private pending: Work[] = [];
  private timer: Timer | undefined;
  private readonly invokeBatch: NonNullable<HandlerRunner['invokeBatch']>;

  constructor(private readonly parts: BatcherParts) {
    const { handler } = parts;
    if (handler.invokeBatch === undefined) throw new Error('handler.batch is set, but this handler cannot take batches');
    this.invokeBatch = handler.invokeBatch.bind(handler);
  }

  /** Messages waiting for their batch to be handed over. */
  get waiting(): number {
    return this.pending.length;
  }

  /** Adds a message whose attempt has begun (its `attemptId` is set); the batch goes as soon as it is full. */
  add(work: Work): void {
    // Not running yet: the deadline sweeper leaves it alone until the hand-over sets the real deadline.
    work.deadline = Infinity;
    this.pending.push(work);
    if (this.pending.length >= this.parts.settings.maxSize) return this.handOver();
    if (this.pending.length === 1) this.timer = this.parts.clock.setTimeout(() => this.handOver(), this.parts.settings.maxWaitMs);
  }

  /** Hands over the batch being collected, full or not (at shutdown, when nothing more will join it). */
  flush(): void {
    if (this.pending.length > 0) this.handOver();
  }

  private handOver(): void {
    const { clock, processingTimeoutMs, outcomes } = this.parts;
    clock.clearTimeout(this.timer);
    this.timer = undefined;
    // An attempt given up while it waited (a forced shutdown) is not handed to the handler.
    const works = this.pending.filter((work) => work.attemptId !== 0);
    this.pending = [];
    if (works.length === 0) return;
    const attemptIds = works.map((work) => work.attemptId);
    const started = clock.now();
    const trace = this.parts.tracer.startBatch(works);
    const context = new BatchContext(this.parts.logger, this.parts.pipeline, works, trace);
    const messages: Message[] = [];
    // Each message's handler call starts here; each ends in outcomes.succeeded or outcomes.failed.
    for (const work of works) {
      work.context = context;
      work.deadline = started + processingTimeoutMs;
      messages.push(messageFor(work));
    }
    let result: Promise<unknown>;
    try {
      result = trace.run(this.invokeBatch, messages, context);
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      (value) => {
        const problem = resultProblem(value, works.length);
        if (problem !== undefined) {
          const error = new BatchResultError(problem);
          trace.failed(error);
          works.forEach((work, i) => outcomes.failed(work, attemptIds[i] as number, error, started));
          return;
        }
        const results = value as unknown[];
        trace.end(results.filter(isError).length);
        works.forEach((work, i) => {
          const element = results[i];
          if (isError(element)) outcomes.failed(work, attemptIds[i] as number, element, started);
          else outcomes.succeeded(work, attemptIds[i] as number, element, started);
        });
      },
      (error: unknown) => {
        trace.failed(error);
        works.forEach((work, i) => outcomes.failed(work, attemptIds[i] as number, error, started));
      },
    );
  }
}

/** Why a batch handler's return value is not one result per message, or undefined when it is. */
function resultProblem(value: unknown, size: number): string | undefined {
  if (!Array.isArray(value)) {
    const got = value === null ? 'null' : typeof value;
    return `the batch handler returned ${got}, not an array with one result per message (${size})`;
  }
  if (value.length !== size) return `the batch handler returned ${value.length} results for a batch of ${size} messages`;
  return undefined;
}

/** An Error of this realm or another (a handler may build its errors in a vm context). */
function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value);
}

/**
 * The context of one batch's call: one AbortSignal for all its messages (they share their deadline);
 * the batch's span as traceparent and in the logger's trace_id / span_id.
 */
class BatchContext extends AbortableContext implements RunningContext {
  private childLogger: Logger | undefined;
  constructor(
    private readonly parentLogger: Logger,
    readonly pipeline: string,
    private readonly works: readonly Work[],
    private readonly trace: BatchTrace,
  ) {
    super();
  }

  get traceparent(): string | undefined {
    return this.trace.traceparent;
  }

  get tracestate(): string | undefined {
    return this.trace.tracestate;
  }

  /** Called once per message of the batch on a timeout or a forced shutdown; the first reason wins. */
  override abort(reason: unknown): void {
    this.trace.failed(reason);
    super.abort(reason);
  }

  get logger(): Logger {
    const first = this.works[0]?.delivery.id;
    this.childLogger ??= this.parentLogger.child({ batchSize: this.works.length, firstMessageId: first, ...this.trace.logFields });
    return this.childLogger;
  }
}
