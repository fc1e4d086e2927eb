import type { Logger } from 'pino';
import { errorText, isPermanent, TimeoutError } from '../errors.ts';
import type { HandlerRunner } from '../handlers/runner.ts';
import type { DeadLetterWriter } from '../outputs/dead-letter.ts';
import type { Writer } from '../outputs/writer.ts';
import { serializeResult } from '../outputs/writer.ts';
import { CircuitBreaker } from '../resilience/circuit-breaker.ts';
import type { Delivery, Source } from '../sources/source.ts';
import { AttemptContext, messageFor, type Work } from './attempt.ts';
import { NO_HEADERS } from '../redis/envelope.ts';
import { type Clock, SYSTEM_CLOCK, type Timer } from './clock.ts';
import type { Decoded, Opened } from './decode.ts';
import { admit } from './admission.ts';
import { DeadLetterPath } from './dead-letter-path.ts';
import { type AttemptTimedOut, startDeadlineSweeper } from './deadline-sweeper.ts';
import { LoopAlarm } from './loop-alarm.ts';
import { Batcher } from './batcher.ts';
import type { DispatcherOptions } from './dispatcher-options.ts';
import type { PipelineObserver } from '../metrics/pipeline-observer.ts';
import { NO_ATTEMPT_TRACE, NO_TRACER, type PipelineTracer } from '../tracing/index.ts';
import { DispatcherFlow, type FlowParts } from './dispatcher-flow.ts';
import { RetrySchedule } from './retry-schedule.ts';
import { finishWithinGrace } from './grace-period.ts';
import { FetchPath } from './fetch-path.ts';

export interface DispatcherParts {
  options: DispatcherOptions;
  source: Source;
  handler: HandlerRunner;
  /** Size check and headers out of their envelope, before `decode`. */
  open: (delivery: Delivery) => Opened;
  decode: (raw: Buffer) => Decoded;
  output: Writer | undefined;
  /** How a result becomes the payload `output` writes; serializeResult unless output.envelope says otherwise. */
  serialize?: (result: unknown) => string | Buffer;
  deadLetter: Pick<DeadLetterWriter, 'send'>;
  logger: Logger;
  observer: PipelineObserver;
  /** The real clock unless a test drives time by hand. */
  clock?: Clock;
  /** Spans per attempt (src/tracing); the no-op tracer when absent. */
  tracer?: PipelineTracer;
  /** rate_limit and ordering (docs/flow-control.md). */
  flow?: FlowParts;
}

/**
 * Runs messages through the handler: at most `concurrency` at once, fetching only what capacity
 * allows; retries with backoff without blocking other messages; a timeout per attempt; a circuit
 * breaker that stops fetching; dead letters written before the ack. Knows nothing about Redis.
 */
export class Dispatcher {
  readonly breaker: CircuitBreaker;
  private readonly options: DispatcherOptions;
  private readonly clock: Clock;
  /** Messages being decoded, handled, written or dead-lettered: each holds a concurrency slot. */
  private active = 0;
  private readonly running = new Set<Work>();
  /** Failed messages waiting for their backoff delay or for a slot (retry-schedule.ts). */
  private readonly retries: RetrySchedule;
  /** Retrying messages stay unacknowledged in Redis; past this many, fetching pauses instead of piling up. */
  private readonly maxWaiting: number;
  /** Fetches in flight and deliveries fetched beyond the room (fetch-path.ts). */
  private readonly fetches: FetchPath;
  private lastAttemptId = 0;
  private stopping = false;
  /** Deliveries given up at shutdown, unacknowledged: stop() returns them so the source hands them back. */
  private readonly unfinished = new Set<Delivery>();
  private readonly alarm: LoopAlarm;
  private readonly deadLetters: DeadLetterPath;
  private loopDone: Promise<void> = Promise.resolve();
  private idle: (() => void) | undefined;
  private sweeper: Timer | undefined;
  /** handler.batch: collects begun attempts into batches; undefined when each message is its own call. */
  private readonly batcher: Batcher | undefined;
  private readonly tracer: PipelineTracer;
  private readonly flow: DispatcherFlow;
  /** Messages whose key's turn came (ordering) take free slots at once, even one an idle blocking fetch reserved (like a due retry). */
  private readonly attemptNow = (work: Work): void => this.attempt(work);
  /** Starts messages whose key's turn came (ordering); after every released slot, so a no-op check first. */
  private readonly startReady = (): boolean =>
    this.flow.ready.length > 0 && this.flow.startReady(this.stopping ? 0 : this.freeSlots(), this.attemptNow);

  constructor(private readonly parts: DispatcherParts) {
    const { options, observer, logger } = parts;
    this.options = options;
    const clock = (this.clock = parts.clock ?? SYSTEM_CLOCK);
    this.tracer = parts.tracer ?? NO_TRACER;
    this.maxWaiting = Math.max(1000, options.concurrency * 10);
    this.alarm = new LoopAlarm(clock);
    const { deadLetter, source } = parts;
    const isStopping = (): boolean => this.stopping;
    const release = (work: Work): void => this.releaseSlot(work);
    const unfinished = this.unfinished;
    const wake = (): void => this.alarm.wakeNow();
    const startNow = (work: Work): boolean => this.retryNow(work);
    const { backoff } = options;
    this.retries = new RetrySchedule({ backoff, clock, logger, observer, isStopping, unfinished, release, startNow, wake });
    this.deadLetters = new DeadLetterPath({
      pipeline: options.pipeline,
      deadLetterKey: options.deadLetterKey,
      deadLetter,
      source,
      observer,
      logger,
      clock,
      isStopping,
      unfinished,
      release,
    });
    const onChange = (state: CircuitBreaker['state']): void => {
      observer.breaker(state);
      logger.warn({ state }, `circuit breaker ${state}`);
      wake();
    };
    this.breaker = new CircuitBreaker(options.circuitBreaker, onChange, () => clock.now());
    if (options.batch) {
      const { pipeline, processingTimeoutMs } = options;
      const outcomes = { succeeded: this.attemptSucceeded.bind(this), failed: this.attemptFailed.bind(this) };
      this.batcher = new Batcher({
        settings: options.batch,
        handler: parts.handler,
        clock,
        processingTimeoutMs,
        logger,
        pipeline,
        outcomes,
        tracer: this.tracer,
      });
    }
    const flow = (this.flow = new DispatcherFlow(parts.flow ?? {}, () => queueMicrotask(this.startReady)));
    const freeSlots = (): number => this.freeSlots();
    const begin = (delivery: Delivery): void => this.begin(delivery);
    this.fetches = new FetchPath({ source, flow, logger, isStopping, freeSlots, begin, unfinished, wake });
  }

  get inFlight(): number {
    return this.active;
  }

  start(): void {
    const timedOut: AttemptTimedOut = (work, attemptId, error, started) => this.attemptFailed(work, attemptId, error, started);
    this.sweeper = startDeadlineSweeper(this.clock, this.options.processingTimeoutMs, this.running, timedOut);
    this.loopDone = this.loop();
  }

  private freeSlots(): number {
    return Math.min(this.options.concurrency - this.active, this.breaker.capacity());
  }

  private async loop(): Promise<void> {
    const batchSize = this.options.batchSize;
    while (!this.stopping) {
      const slots = this.freeSlots();
      if (this.startReady()) continue;
      // Capacity already promised to fetches in flight counts as taken.
      const free = slots - this.fetches.reserved;
      if (free <= 0) {
        // Full, or the breaker is open: wait for a slot or for the breaker to half-open.
        await this.alarm.sleep(this.breaker.state === 'open' ? Math.max(10, this.breaker.msUntilHalfOpen()) : 1000);
        continue;
      }
      const retryReady = this.retries.ready;
      if (retryReady.length > 0) {
        const permitted = await this.flow.take(Math.min(free, retryReady.length));
        for (const work of retryReady.splice(0, permitted)) this.attempt(work);
        continue;
      }
      if (this.fetches.beginFetched(free)) continue;
      if (this.retries.waitingCount + this.flow.held >= this.maxWaiting || this.fetches.full) {
        await this.alarm.sleep(this.fetches.inFlight > 0 ? 1000 : 100);
        continue;
      }
      const permitted = await this.flow.take(Math.min(free, batchSize));
      if (permitted > 0) this.fetches.fetch(permitted);
      // With room for another batch, the next fetch goes out before this one returns (no idle round trip).
      if (free < 2 * batchSize && !this.stopping) await this.alarm.sleep(1000);
    }
    await this.fetches.settled();
  }

  private begin(delivery: Delivery): void {
    const work: Work = {
      delivery,
      raw: delivery.raw,
      headers: NO_HEADERS,
      body: undefined,
      attempt: 1,
      firstFailureAt: 0,
      context: undefined,
      timer: undefined,
      deadline: 0,
      attemptId: 0,
      trace: NO_ATTEMPT_TRACE,
    };
    const rejected = admit(work, this.options, this.parts.open, this.parts.decode);
    if (rejected === undefined) return this.flow.enter(work) ? this.attempt(work) : undefined;
    this.acquireSlot(work);
    // Rejected before the handler (oversized, malformed): its span holds only the dead-letter write.
    work.trace = this.tracer.startAttempt(work);
    work.trace.failed(rejected.error);
    this.deadLetters.send(work, rejected.reason, rejected.error, rejected.attempts);
  }

  private acquireSlot(work: Work): void {
    this.active++;
    this.running.add(work);
    this.parts.observer.inFlight(this.active);
  }

  private releaseSlot(work: Work): void {
    this.active--;
    this.running.delete(work);
    this.parts.observer.inFlight(this.active);
    if (this.active === 0 && this.idle) this.idle();
    this.startReady();
    this.alarm.wakeSoon();
  }

  /**
   * One message's attempt begins; it ends in attemptSucceeded or attemptFailed, per message in batches too.
   * With handler.batch the handler call itself starts later, when the batch is handed over (batcher.ts).
   */
  private attempt(work: Work): void {
    this.acquireSlot(work);
    this.breaker.started();
    const attemptId = ++this.lastAttemptId;
    work.attemptId = attemptId;
    const trace = (work.trace = this.tracer.startAttempt(work, work.trace));
    if (this.batcher) return this.batcher.add(work);
    const { handler, logger } = this.parts;
    const message = messageFor(work);
    const started = this.clock.now();
    work.deadline = started + this.options.processingTimeoutMs;
    let result: Promise<unknown>;
    try {
      work.context = new AttemptContext(work, work.attempt, logger, this.options.pipeline);
      result = trace.run(handler, message, work.context);
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      (value) => this.attemptSucceeded(work, attemptId, value, started),
      (error: unknown) => this.attemptFailed(work, attemptId, error, started),
    );
  }

  private attemptSucceeded(work: Work, attemptId: number, result: unknown, started: number): void {
    // A result of an attempt that timed out or was abandoned at shutdown is discarded.
    if (work.attemptId !== attemptId) return;
    work.attemptId = 0;
    this.parts.observer.duration((this.clock.now() - started) / 1000);
    const { output } = this.parts;
    if (!output || result === undefined) return this.completed(work);
    let serialized: ReturnType<typeof serializeResult>;
    try {
      serialized = (this.parts.serialize ?? serializeResult)(result);
    } catch (error) {
      // A result that cannot be serialized (a BigInt, a cycle) fails this message, not the worker.
      return this.retryOrDeadLetter(work, error);
    }
    // The ack waits for the output write; a failed write fails the message like a failed attempt (it is retried).
    const write = work.trace.outputWrite(this.options.outputKey);
    output(serialized).then(
      () => {
        write.end();
        this.completed(work);
      },
      (error: unknown) => {
        write.end(error);
        this.retryOrDeadLetter(work, error);
      },
    );
  }

  private completed(work: Work): void {
    this.breaker.success();
    this.parts.source.ack(work.delivery);
    this.parts.observer.outcome('ok');
    work.trace.end('ok');
    this.releaseSlot(work);
  }

  private attemptFailed(work: Work, attemptId: number, error: unknown, started: number): void {
    if (work.attemptId !== attemptId) return;
    work.attemptId = 0;
    this.parts.observer.duration((this.clock.now() - started) / 1000);
    this.retryOrDeadLetter(work, error);
  }

  private retryOrDeadLetter(work: Work, error: unknown): void {
    this.breaker.failure();
    if (work.firstFailureAt === 0) work.firstFailureAt = this.clock.epochMs();
    work.trace.failed(error);
    const text = errorText(error);
    if (isPermanent(error)) return this.deadLetters.send(work, 'permanent_error', text, work.attempt);
    if (work.attempt > this.options.maxRetries) {
      return this.deadLetters.send(work, error instanceof TimeoutError ? 'timeout' : 'retries_exhausted', text, work.attempt);
    }
    this.retries.retry(work, text);
  }

  /** A due retry starts now if a slot is free, unless it must take a rate_limit permit first (in the loop). */
  private retryNow(work: Work): boolean {
    // Capacity reserved by an idle blocking fetch must not hold a retry back for block_timeout_ms:
    // start it now when a slot is free (an excess of fetched messages waits in `fetched`).
    if (this.flow.limited || this.active >= this.options.concurrency || this.breaker.capacity() <= 0) return false;
    this.attempt(work);
    return true;
  }

  /**
   * Stops fetching, lets running messages finish for up to graceMs (attempts still time out meanwhile),
   * then aborts the rest (their late results are discarded). Messages waiting for a retry are left
   * unacknowledged, hence recoverable. Returns the deliveries that were not acknowledged.
   */
  async stop(graceMs: number): Promise<Delivery[]> {
    this.stopping = true;
    this.batcher?.flush(); // nothing more will join the batch being collected
    this.flow.interrupt();
    this.parts.source.interrupt();
    this.alarm.wakeNow();
    await this.loopDone;
    this.retries.giveUp();
    this.fetches.giveUp();
    for (const work of this.flow.drain()) this.unfinished.add(work.delivery);
    if (this.active > 0) await this.drain(graceMs);
    this.clock.clearInterval(this.sweeper);
    const unfinished = [...this.unfinished];
    await this.parts.source.flush();
    return unfinished;
  }

  private drain(graceMs: number): Promise<void> {
    const drained = new Promise<void>((resolve) => (this.idle = resolve));
    const { clock, running, unfinished } = this;
    return finishWithinGrace(drained, graceMs, { clock, logger: this.parts.logger, running, unfinished });
  }
}
