import type { Logger } from 'pino';
import type { PipelineConfig } from '../config/index.ts';
import { isPermanent, TimeoutError } from '../errors.ts';
import type { HandlerRunner } from '../handlers/runner.ts';
import type { Message } from '../handlers/types.ts';
import type { DeadLetterReason, DeadLetterWriter } from '../outputs/dead-letter.ts';
import type { Writer } from '../outputs/writer.ts';
import { serializeResult } from '../outputs/writer.ts';
import { retryDelay } from '../resilience/backoff.ts';
import { CircuitBreaker } from '../resilience/circuit-breaker.ts';
import type { Delivery, Source } from '../sources/source.ts';
import { AttemptContext, type Work } from './attempt.ts';
import type { Decoded } from './decode.ts';
import type { PipelineObserver } from './observer.ts';

/** Fetches outstanding at once: two keep the connection busy while a batch is being dispatched. */
const MAX_FETCHES_IN_FLIGHT = 2;

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

export interface DispatcherParts {
  config: PipelineConfig;
  source: Source;
  handler: HandlerRunner;
  decode: (raw: Buffer) => Decoded;
  output: Writer | undefined;
  deadLetter: DeadLetterWriter;
  logger: Logger;
  observer: PipelineObserver;
}

/**
 * Runs messages through the handler: at most `concurrency` at once, fetching only what capacity
 * allows; retries with backoff without blocking other messages; a timeout per attempt; a circuit
 * breaker that stops fetching; dead letters written before the ack. Knows nothing about Redis.
 */
export class Dispatcher {
  readonly breaker: CircuitBreaker;
  private readonly concurrency: number;
  private readonly batchSize: number;
  /** Messages being decoded, handled, or written (they hold a concurrency slot). */
  private active = 0;
  /** Messages whose retry delay has passed, waiting for a slot. */
  private readonly retryReady: Work[] = [];
  /** Messages waiting for their retry delay; they hold no slot, so they never block others. */
  private readonly waiting = new Set<Work>();
  /** Fetched beyond the room left when the fetch returned (retries started meanwhile, or the breaker opened). */
  private readonly fetched: Delivery[] = [];
  private readonly running = new Set<Work>();
  private stopping = false;
  private wake: (() => void) | undefined;
  private loopDone: Promise<void> = Promise.resolve();
  private idle: (() => void) | undefined;
  private readonly maxWaiting: number;
  private attempts = 0;
  private wakeScheduled = false;
  /** Capacity promised to fetches that have not returned yet. */
  private reserved = 0;
  private readonly fetching = new Set<Promise<void>>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly parts: DispatcherParts) {
    const { config, observer } = parts;
    this.concurrency = config.concurrency;
    const source = config.source.list ?? config.source.stream;
    this.batchSize = source?.batch_size ?? config.concurrency;
    // Retrying messages stay unacknowledged in Redis; past this many, fetching pauses instead of piling up.
    this.maxWaiting = Math.max(1000, config.concurrency * 10);
    this.breaker = new CircuitBreaker(config.resilience.circuit_breaker, (state) => {
      observer.breaker(state);
      parts.logger.warn({ state }, `circuit breaker ${state}`);
      this.signal();
    });
  }

  get inFlight(): number {
    return this.active;
  }

  start(): void {
    // One timer checks every running attempt's deadline, instead of a timer and a promise per message.
    const timeoutMs = this.parts.config.resilience.processing_timeout_ms;
    const every = Math.min(1000, Math.max(5, Math.floor(timeoutMs / 20)));
    this.sweeper = setInterval(() => this.expireAttempts(), every);
    this.sweeper.unref();
    this.loopDone = this.loop();
  }

  private expireAttempts(): void {
    const now = performance.now();
    for (const work of this.running) {
      if (work.token !== 0 && now >= work.deadline) {
        const error = new TimeoutError(this.parts.config.resilience.processing_timeout_ms);
        work.context?.abort(error);
        this.failed(work, work.token, error, work.deadline - this.parts.config.resilience.processing_timeout_ms);
      }
    }
  }

  private signal(): void {
    const wake = this.wake;
    if (wake) {
      this.wake = undefined;
      wake();
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      // Capacity already promised to fetches in flight counts as taken.
      const free = Math.min(this.concurrency - this.active, this.breaker.capacity()) - this.reserved;
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
      this.fetch(Math.min(free, this.batchSize));
      // With room for another batch, the next fetch goes out before this one returns (no idle round trip).
      if (free < 2 * this.batchSize) await this.sleep(1000);
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
          const room = Math.min(this.concurrency - this.active, this.breaker.capacity());
          for (let i = 0; i < deliveries.length; i++) {
            if (i < room) this.begin(deliveries[i] as Delivery);
            else this.fetched.push(deliveries[i] as Delivery);
          }
        }
        this.signal();
      },
      (error: unknown) => {
        this.reserved -= count;
        this.fetching.delete(pending);
        this.parts.logger.error({ err: error }, 'fetch failed');
        this.signal();
      },
    );
    this.fetching.add(pending);
  }

  private begin(delivery: Delivery): void {
    const work: Work = { delivery, body: undefined, attempt: 1, firstFailureAt: 0, context: undefined, timer: undefined, deadline: 0, token: 0 };
    const { config, decode } = this.parts;
    const maxDeliveries = config.source.stream?.max_deliveries;
    if (maxDeliveries !== undefined && delivery.deliveryCount > maxDeliveries) {
      this.take(work);
      this.kill(work, 'max_deliveries', `delivered ${delivery.deliveryCount} times, more than source.stream.max_deliveries (${maxDeliveries})`, delivery.deliveryCount - 1);
      return;
    }
    const decoded = decode(delivery.raw);
    if (!decoded.ok) {
      this.take(work);
      this.kill(work, decoded.reason, decoded.error, 0);
      return;
    }
    work.body = decoded.body;
    this.attempt(work);
  }

  private take(work: Work): void {
    this.active++;
    this.running.add(work);
    this.parts.observer.inFlight(this.active);
  }

  private release(work: Work): void {
    this.active--;
    this.running.delete(work);
    this.parts.observer.inFlight(this.active);
    if (this.active === 0 && this.idle) this.idle();
    this.signalSoon();
  }

  /**
   * Wakes the fetch loop once after the current burst of completions, so the slots freed by a whole
   * batch become one fetch rather than one small fetch per finished message.
   */
  private signalSoon(): void {
    if (this.wakeScheduled || !this.wake) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      this.signal();
    });
  }

  private attempt(work: Work): void {
    this.take(work);
    this.breaker.started();
    const { config, handler, logger } = this.parts;
    const delivery = work.delivery;
    const token = ++this.attempts;
    work.token = token;
    const message: Message = {
      id: delivery.id,
      body: work.body,
      raw: delivery.raw,
      fields: delivery.fields,
      headers: NO_HEADERS,
      source: delivery.origin,
      attempt: work.attempt,
      deliveryCount: delivery.deliveryCount + work.attempt - 1,
      receivedAt: delivery.receivedAt,
    };
    const started = performance.now();
    work.deadline = started + config.resilience.processing_timeout_ms;
    let result: Promise<unknown>;
    try {
      work.context = new AttemptContext(work, work.attempt, logger, config.name);
      result = handler.invoke(message, work.context);
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      (value) => this.succeeded(work, token, value, started),
      (error: unknown) => this.failed(work, token, error, started),
    );
  }

  private succeeded(work: Work, token: number, result: unknown, started: number): void {
    // A result of an attempt that timed out or was abandoned at shutdown is discarded.
    if (work.token !== token) return;
    work.token = 0;
    this.parts.observer.duration((performance.now() - started) / 1000);
    const { output } = this.parts;
    if (!output || result === undefined) return this.completed(work);
    // The ack waits for the output write; a failed write fails the attempt (it is retried).
    output(serializeResult(result)).then(
      () => this.completed(work),
      (error: unknown) => {
        work.token = token;
        this.failed(work, token, error, started);
      },
    );
  }

  private completed(work: Work): void {
    this.breaker.success();
    this.parts.source.ack(work.delivery);
    this.parts.observer.outcome('ok');
    this.release(work);
  }

  private failed(work: Work, token: number, error: unknown, started: number): void {
    if (work.token !== token) return;
    work.token = 0;
    const { config, observer, logger } = this.parts;
    observer.duration((performance.now() - started) / 1000);
    this.breaker.failure();
    const now = Date.now();
    if (work.firstFailureAt === 0) work.firstFailureAt = now;
    const text = errorText(error);
    if (isPermanent(error)) return this.kill(work, 'permanent_error', text, work.attempt);
    if (work.attempt > config.resilience.max_retries) {
      return this.kill(work, error instanceof TimeoutError ? 'timeout' : 'retries_exhausted', text, work.attempt);
    }
    const delay = retryDelay(config.resilience, work.attempt);
    logger.warn({ messageId: work.delivery.id, attempt: work.attempt, delayMs: delay, err: text }, 'handler failed; retrying');
    observer.retry();
    observer.outcome('retried');
    work.attempt++;
    this.release(work);
    this.waiting.add(work);
    work.timer = setTimeout(() => {
      this.waiting.delete(work);
      if (this.stopping) return;
      // Capacity reserved by an idle blocking fetch must not hold a retry back for block_timeout_ms:
      // start it now when a slot is free (an excess of fetched messages waits in `fetched`).
      if (this.active < this.concurrency && this.breaker.capacity() > 0) return this.attempt(work);
      this.retryReady.push(work);
      this.signal();
    }, delay);
  }

  /** Dead-letters a message (it holds a slot), then acknowledges it. */
  private kill(work: Work, reason: DeadLetterReason, error: string, attempts: number): void {
    const { deadLetter, source, observer, logger, config } = this.parts;
    const now = Date.now();
    const delivery = work.delivery;
    const input = { raw: delivery.raw, reason, error, attempts, origin: delivery.origin, messageId: delivery.id, fields: delivery.fields, firstFailureAt: work.firstFailureAt || now, lastFailureAt: now };
    logger.warn({ messageId: delivery.id, reason, attempts, err: error }, 'dead-lettering message');
    const write = async (): Promise<void> => {
      for (let tries = 1; ; tries++) {
        try {
          await deadLetter.send(input);
          break;
        } catch (err) {
          if (this.stopping && tries > 3) return; // left unacknowledged: redelivered after a restart
          logger.error({ err, tries, pipeline: config.name }, 'writing the dead letter failed; retrying');
          await new Promise((r) => setTimeout(r, Math.min(100 * tries, 2000)));
        }
      }
      source.ack(delivery);
      observer.deadLetter(reason);
      observer.outcome('dead_lettered');
    };
    void write().finally(() => this.release(work));
  }

  /**
   * Stops fetching, lets running messages finish for up to graceMs, then aborts the rest (their late
   * results are discarded). Messages waiting for a retry are left unacknowledged, hence recoverable.
   * Returns the deliveries that were not acknowledged.
   */
  async stop(graceMs: number): Promise<Delivery[]> {
    this.stopping = true;
    this.parts.source.interrupt();
    this.signal();
    await this.loopDone;
    clearInterval(this.sweeper);
    for (const work of this.waiting) clearTimeout(work.timer);
    const unfinished = [...[...this.waiting, ...this.retryReady].map((w) => w.delivery), ...this.fetched.splice(0)];
    this.waiting.clear();
    this.retryReady.length = 0;
    if (this.active > 0) {
      const drained = new Promise<void>((resolve) => (this.idle = resolve));
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((resolve) => (timer = setTimeout(() => resolve('expired'), graceMs)));
      const result = await Promise.race([drained, expired]);
      clearTimeout(timer);
      if (result === 'expired') {
        this.parts.logger.warn({ count: this.active, graceMs }, 'grace period over: abandoning unfinished messages');
        for (const work of this.running) {
          work.token = 0; // late results are discarded
          work.context?.abort(new Error('shutdown: grace period over'));
          unfinished.push(work.delivery);
        }
      }
    }
    await this.parts.source.flush();
    return unfinished;
  }
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
}
