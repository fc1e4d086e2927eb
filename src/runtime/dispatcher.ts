import type { Logger } from 'pino';
import { errorText, isPermanent, TimeoutError } from '../errors.ts';
import type { HandlerRunner } from '../handlers/runner.ts';
import type { Message } from '../handlers/types.ts';
import type { DeadLetterReason, DeadLetterWriter } from '../outputs/dead-letter.ts';
import type { Writer } from '../outputs/writer.ts';
import { serializeResult } from '../outputs/writer.ts';
import { retryForever } from '../redis/retry-forever.ts';
import { retryDelay } from '../resilience/backoff.ts';
import { CircuitBreaker } from '../resilience/circuit-breaker.ts';
import type { Delivery, Source } from '../sources/source.ts';
import { AttemptContext, type Work } from './attempt.ts';
import { NO_HEADERS } from '../redis/envelope.ts';
import { type Clock, SYSTEM_CLOCK, type Timer } from './clock.ts';
import type { Decoded, Opened } from './decode.ts';
import type { DispatcherOptions } from './dispatcher-options.ts';
import type { PipelineObserver } from '../metrics/pipeline-observer.ts';

/** Fetches outstanding at once: two keep the connection busy while a batch is being dispatched. */
const MAX_FETCHES_IN_FLIGHT = 2;

export interface DispatcherParts {
  options: DispatcherOptions;
  source: Source;
  handler: HandlerRunner;
  /** Size check and headers out of their envelope, before `decode`. */
  open: (delivery: Delivery) => Opened;
  decode: (raw: Buffer) => Decoded;
  output: Writer | undefined;
  deadLetter: Pick<DeadLetterWriter, 'send'>;
  logger: Logger;
  observer: PipelineObserver;
  /** The real clock unless a test drives time by hand. */
  clock?: Clock;
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
  /** Messages whose retry delay has passed, waiting for a slot. */
  private readonly retryReady: Work[] = [];
  /** Messages waiting for their retry delay; they hold no slot, so they never block others. */
  private readonly waiting = new Set<Work>();
  /** Fetched beyond the room left when the fetch returned (retries started meanwhile, or the breaker opened). */
  private readonly fetched: Delivery[] = [];
  /** Retrying messages stay unacknowledged in Redis; past this many, fetching pauses instead of piling up. */
  private readonly maxWaiting: number;
  /** Capacity promised to fetches that have not returned yet. */
  private reserved = 0;
  private readonly fetching = new Set<Promise<void>>();
  private lastAttemptId = 0;
  private stopping = false;
  /** Deliveries given up at shutdown, unacknowledged: stop() returns them so the source hands them back. */
  private readonly unfinished = new Set<Delivery>();
  /** Resolves the fetch loop's current sleep. */
  private wake: (() => void) | undefined;
  private wakeScheduled = false;
  private loopDone: Promise<void> = Promise.resolve();
  private idle: (() => void) | undefined;
  private sweeper: Timer | undefined;
  /** Oversized payloads are loaded one at a time, only to be dead-lettered: memory holds one at most. */
  private oversizedLane: Promise<void> = Promise.resolve();

  constructor(private readonly parts: DispatcherParts) {
    const { options, observer, logger } = parts;
    this.options = options;
    const clock = (this.clock = parts.clock ?? SYSTEM_CLOCK);
    this.maxWaiting = Math.max(1000, options.concurrency * 10);
    const onChange = (state: CircuitBreaker['state']): void => {
      observer.breaker(state);
      logger.warn({ state }, `circuit breaker ${state}`);
      this.wakeLoop();
    };
    this.breaker = new CircuitBreaker(options.circuitBreaker, onChange, () => clock.now());
  }

  get inFlight(): number {
    return this.active;
  }

  start(): void {
    // One timer checks every running attempt's deadline, instead of a timer and a promise per message.
    const every = Math.min(1000, Math.max(5, Math.floor(this.options.processingTimeoutMs / 20)));
    this.sweeper = this.clock.setInterval(() => this.expireAttempts(), every);
    this.loopDone = this.loop();
  }

  private expireAttempts(): void {
    const now = this.clock.now();
    const timeoutMs = this.options.processingTimeoutMs;
    for (const work of this.running) {
      if (work.attemptId !== 0 && now >= work.deadline) {
        const error = new TimeoutError(timeoutMs);
        work.context?.abort(error);
        this.attemptFailed(work, work.attemptId, error, work.deadline - timeoutMs);
      }
    }
  }

  private wakeLoop(): void {
    const wake = this.wake;
    if (wake) {
      this.wake = undefined;
      wake();
    }
  }

  /**
   * Wakes the fetch loop once after the current burst of completions, so the slots freed by a whole
   * batch become one fetch rather than one small fetch per finished message.
   */
  private wakeLoopSoon(): void {
    if (this.wakeScheduled || !this.wake) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      this.wakeLoop();
    });
  }

  /** Sleeps up to `ms`, or until wakeLoop(). */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        this.clock.clearTimeout(timer);
        resolve();
      };
    });
  }

  private freeSlots(): number {
    return Math.min(this.options.concurrency - this.active, this.breaker.capacity());
  }

  private async loop(): Promise<void> {
    const batchSize = this.options.batchSize;
    while (!this.stopping) {
      // Capacity already promised to fetches in flight counts as taken.
      const free = this.freeSlots() - this.reserved;
      if (free <= 0) {
        // Full, or the breaker is open: wait for a slot or for the breaker to half-open.
        await this.sleep(this.breaker.state === 'open' ? Math.max(10, this.breaker.msUntilHalfOpen()) : 1000);
        continue;
      }
      if (this.retryReady.length > 0) {
        for (const work of this.retryReady.splice(0, free)) this.attempt(work);
        continue;
      }
      if (this.fetched.length > 0) {
        for (const delivery of this.fetched.splice(0, free)) this.begin(delivery);
        continue;
      }
      if (this.waiting.size >= this.maxWaiting || this.fetching.size >= MAX_FETCHES_IN_FLIGHT) {
        await this.sleep(this.fetching.size > 0 ? 1000 : 100);
        continue;
      }
      this.fetch(Math.min(free, batchSize));
      // With room for another batch, the next fetch goes out before this one returns (no idle round trip).
      if (free < 2 * batchSize) await this.sleep(1000);
    }
    await Promise.all(this.fetching);
  }

  private fetch(count: number): void {
    this.reserved += count;
    const pending = this.parts.source.fetch(count).then(
      (deliveries) => {
        this.reserved -= count;
        this.fetching.delete(pending);
        // Fetched after stop() began: left unacknowledged, so the source's close() hands them back.
        if (!this.stopping) {
          const room = this.freeSlots();
          for (let i = 0; i < deliveries.length; i++) {
            if (i < room) this.begin(deliveries[i] as Delivery);
            else this.fetched.push(deliveries[i] as Delivery);
          }
        }
        this.wakeLoop();
      },
      (error: unknown) => {
        this.reserved -= count;
        this.fetching.delete(pending);
        this.parts.logger.error({ err: error }, 'fetch failed');
        this.wakeLoop();
      },
    );
    this.fetching.add(pending);
  }

  private begin(delivery: Delivery): void {
    const work: Work = { delivery, raw: delivery.raw, headers: NO_HEADERS, body: undefined, attempt: 1, firstFailureAt: 0, context: undefined, timer: undefined, deadline: 0, attemptId: 0 };
    const maxDeliveries = this.options.maxDeliveries;
    if (maxDeliveries !== undefined && delivery.deliveryCount > maxDeliveries.limit) {
      this.acquireSlot(work);
      const error = `delivered ${delivery.deliveryCount} times, more than ${maxDeliveries.setting} (${maxDeliveries.limit})`;
      this.deadLetter(work, 'max_deliveries', error, delivery.deliveryCount - 1);
      return;
    }
    if (delivery.oversized) {
      this.acquireSlot(work);
      this.deadLetter(work, 'too_large', `payload of ${delivery.oversized.size} bytes exceeds message.max_bytes ${this.options.maxBytes}`, 0);
      return;
    }
    let decoded: Decoded;
    try {
      const opened = this.parts.open(delivery);
      if (opened.ok) {
        work.raw = opened.raw;
        work.headers = opened.headers;
      }
      decoded = opened.ok ? this.parts.decode(opened.raw) : opened;
    } catch (error) {
      // One hostile payload (a body nested deep enough to overflow the stack of a recursive schema,
      // say) must end as its own dead letter: thrown from here it would crash the worker, and a list
      // item would crash every worker that recovers it.
      decoded = { ok: false, reason: 'decode_error', error: `decoding failed: ${errorText(error)}` };
    }
    if (!decoded.ok) {
      this.acquireSlot(work);
      this.deadLetter(work, decoded.reason, decoded.error, 0);
      return;
    }
    work.body = decoded.body;
    this.attempt(work);
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
    this.wakeLoopSoon();
  }

  private attempt(work: Work): void {
    this.acquireSlot(work);
    this.breaker.started();
    const { handler, logger } = this.parts;
    const delivery = work.delivery;
    const attemptId = ++this.lastAttemptId;
    work.attemptId = attemptId;
    const message: Message = {
      id: delivery.id,
      body: work.body,
      raw: work.raw,
      fields: delivery.fields,
      headers: work.headers,
      source: delivery.origin,
      attempt: work.attempt,
      deliveryCount: delivery.deliveryCount + work.attempt - 1,
      receivedAt: delivery.receivedAt,
    };
    const started = this.clock.now();
    work.deadline = started + this.options.processingTimeoutMs;
    let result: Promise<unknown>;
    try {
      work.context = new AttemptContext(work, work.attempt, logger, this.options.pipeline);
      result = handler.invoke(message, work.context);
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
      serialized = serializeResult(result);
    } catch (error) {
      // A result that cannot be serialized (a BigInt, a cycle) fails this message, not the worker.
      return this.retryOrDeadLetter(work, error);
    }
    // The ack waits for the output write; a failed write fails the message like a failed attempt (it is retried).
    output(serialized).then(
      () => this.completed(work),
      (error: unknown) => this.retryOrDeadLetter(work, error),
    );
  }

  private completed(work: Work): void {
    this.breaker.success();
    this.parts.source.ack(work.delivery);
    this.parts.observer.outcome('ok');
    this.releaseSlot(work);
  }

  private attemptFailed(work: Work, attemptId: number, error: unknown, started: number): void {
    if (work.attemptId !== attemptId) return;
    work.attemptId = 0;
    this.parts.observer.duration((this.clock.now() - started) / 1000);
    this.retryOrDeadLetter(work, error);
  }

  private retryOrDeadLetter(work: Work, error: unknown): void {
    const { options } = this;
    const { observer, logger } = this.parts;
    this.breaker.failure();
    if (work.firstFailureAt === 0) work.firstFailureAt = this.clock.epochMs();
    const text = errorText(error);
    if (isPermanent(error)) return this.deadLetter(work, 'permanent_error', text, work.attempt);
    if (work.attempt > options.maxRetries) {
      return this.deadLetter(work, error instanceof TimeoutError ? 'timeout' : 'retries_exhausted', text, work.attempt);
    }
    if (this.stopping) {
      // No new attempt during a drain: left unacknowledged, the message is redelivered after the restart.
      logger.warn({ messageId: work.delivery.id, attempt: work.attempt, err: text }, 'handler failed while draining; left for redelivery');
      this.unfinished.add(work.delivery);
      return this.releaseSlot(work);
    }
    const delay = retryDelay(options.backoff, work.attempt);
    logger.warn({ messageId: work.delivery.id, attempt: work.attempt, delayMs: delay, err: text }, 'handler failed; retrying');
    observer.retry();
    observer.outcome('retried');
    work.attempt++;
    this.releaseSlot(work);
    this.waiting.add(work);
    work.timer = this.clock.setTimeout(() => this.retryDue(work), delay);
  }

  private retryDue(work: Work): void {
    this.waiting.delete(work);
    if (this.stopping) {
      this.unfinished.add(work.delivery);
      return;
    }
    // Capacity reserved by an idle blocking fetch must not hold a retry back for block_timeout_ms:
    // start it now when a slot is free (an excess of fetched messages waits in `fetched`).
    if (this.active < this.options.concurrency && this.breaker.capacity() > 0) return this.attempt(work);
    this.retryReady.push(work);
    this.wakeLoop();
  }

  /** Writes the dead letter (the message holds a slot meanwhile), and only then acknowledges the message. */
  private deadLetter(work: Work, reason: DeadLetterReason, error: string, attempts: number): void {
    const { deadLetter, source, observer, logger } = this.parts;
    const now = this.clock.epochMs();
    const delivery = work.delivery;
    const input = { raw: work.raw, headers: work.headers, reason, error, attempts, origin: delivery.origin, messageId: delivery.id, fields: delivery.fields, fieldPairs: delivery.fieldPairs, firstFailureAt: work.firstFailureAt || now, lastFailureAt: now };
    logger.warn({ messageId: delivery.id, reason, attempts, err: error }, 'dead-lettering message');
    const keepTrying = (err: unknown, tries: number): boolean => {
      // While stopping, give up after a few tries: left unacknowledged, it is redelivered after a restart.
      if (this.stopping && tries > 3) return false;
      logger.error({ err, tries, pipeline: this.options.pipeline }, 'writing the dead letter failed; retrying');
      return true;
    };
    const wait = (ms: number): Promise<void> => new Promise((resolve) => this.clock.setTimeout(resolve, ms));
    const oversized = delivery.oversized;
    const write = async (): Promise<void> => {
      if (oversized) {
        const raw = await retryForever(oversized.load, keepTrying, wait);
        // Gone from the processing list (requeued by a recovery): nothing to dead-letter or acknowledge.
        if (raw === undefined) return;
        input.raw = raw;
        // A stream entry's fields arrive with its bytes.
        input.fields = delivery.fields;
        input.fieldPairs = delivery.fieldPairs;
      }
      await retryForever(() => deadLetter.send(input), keepTrying, wait);
      source.ack(delivery);
      observer.deadLetter(reason);
      observer.outcome('dead_lettered');
    };
    if (!oversized) {
      write()
        .catch(() => this.unfinished.add(delivery))
        .finally(() => this.releaseSlot(work));
      return;
    }
    // One oversized payload in memory at a time: its ack (which carries it) is flushed before the next loads.
    this.oversizedLane = this.oversizedLane
      .then(write)
      .then(() => source.flush())
      .catch(() => void this.unfinished.add(delivery))
      .finally(() => {
        input.raw = delivery.raw;
        input.fieldPairs = delivery.fieldPairs = undefined;
        this.releaseSlot(work);
      });
  }

  /**
   * Stops fetching, lets running messages finish for up to graceMs (attempts still time out meanwhile),
   * then aborts the rest (their late results are discarded). Messages waiting for a retry are left
   * unacknowledged, hence recoverable. Returns the deliveries that were not acknowledged.
   */
  async stop(graceMs: number): Promise<Delivery[]> {
    this.stopping = true;
    this.parts.source.interrupt();
    this.wakeLoop();
    await this.loopDone;
    for (const work of this.waiting) {
      this.clock.clearTimeout(work.timer);
      this.unfinished.add(work.delivery);
    }
    for (const work of this.retryReady) this.unfinished.add(work.delivery);
    for (const delivery of this.fetched) this.unfinished.add(delivery);
    this.waiting.clear();
    this.retryReady.length = 0;
    this.fetched.length = 0;
    if (this.active > 0) await this.drain(graceMs);
    this.clock.clearInterval(this.sweeper);
    const unfinished = [...this.unfinished];
    await this.parts.source.flush();
    return unfinished;
  }

  private async drain(graceMs: number): Promise<void> {
    const drained = new Promise<'drained'>((resolve) => (this.idle = () => resolve('drained')));
    let timer: Timer | undefined;
    const expired = new Promise<'expired'>((resolve) => (timer = this.clock.setTimeout(() => resolve('expired'), graceMs)));
    const result = await Promise.race([drained, expired]);
    this.clock.clearTimeout(timer);
    if (result === 'drained') return;
    this.parts.logger.warn({ count: this.active, graceMs }, 'grace period over: abandoning unfinished messages');
    for (const work of this.running) {
      work.attemptId = 0; // late results are discarded
      work.context?.abort(new Error('shutdown: grace period over'));
      this.unfinished.add(work.delivery);
    }
  }
}
