import type { Logger } from 'pino';
import type { PipelineObserver } from '../metrics/pipeline-observer.ts';
import { type BackoffPolicy, retryDelay } from '../resilience/backoff.ts';
import type { Delivery } from '../sources/source.ts';
import type { Work } from './attempt.ts';
import type { Clock } from './clock.ts';

export interface RetryScheduleParts {
  backoff: BackoffPolicy;
  clock: Clock;
  logger: Logger;
  observer: PipelineObserver;
  /** True once the dispatcher stops: no retry begins any more. */
  isStopping: () => boolean;
  /** Deliveries left unacknowledged (retries not begun at shutdown), handed back at stop. */
  unfinished: Set<Delivery>;
  /** Frees the failed attempt's concurrency slot: a message waiting for its retry holds none. */
  release: (work: Work) => void;
  /** Starts a due retry at once when it may (a free slot, no rate_limit permit to take); false: it queues in `ready`. */
  startNow: (work: Work) => boolean;
  /** Wakes the fetch loop, which starts the queued retries as slots (and permits) allow. */
  wake: () => void;
}

/**
 * The dispatcher's retries: a failed attempt that may be tried again waits its backoff delay without
 * a concurrency slot, so it never blocks other messages, then starts at once or queues for a slot.
 * While stopping no retry begins: the message stays unacknowledged and is redelivered after a restart.
 */
export class RetrySchedule {
  /** Messages whose retry delay has passed, waiting for a slot. */
  readonly ready: Work[] = [];
  /** Messages waiting for their retry delay. */
  private readonly waiting = new Set<Work>();

  constructor(private readonly parts: RetryScheduleParts) {}

  /** Messages waiting for their delay: they stay unacknowledged in Redis meanwhile. */
  get waitingCount(): number {
    return this.waiting.size;
  }

  /** A retryable failure of `work`'s attempt (its trace already holds the error, `error` is its text). */
  retry(work: Work, error: string): void {
    const { clock, logger, observer } = this.parts;
    if (this.parts.isStopping()) {
      // No new attempt during a drain: left unacknowledged, the message is redelivered after the restart.
      logger.warn(
        { messageId: work.delivery.id, attempt: work.attempt, err: error, ...work.trace.logFields },
        'handler failed while draining; left for redelivery',
      );
      work.trace.end('unfinished');
      this.parts.unfinished.add(work.delivery);
      return this.parts.release(work);
    }
    const delay = retryDelay(this.parts.backoff, work.attempt);
    logger.warn(
      { messageId: work.delivery.id, attempt: work.attempt, delayMs: delay, err: error, ...work.trace.logFields },
      'handler failed; retrying',
    );
    work.trace.end('retried');
    observer.retry();
    observer.outcome('retried');
    work.attempt++;
    this.parts.release(work);
    this.waiting.add(work);
    work.timer = clock.setTimeout(() => this.due(work), delay);
  }

  private due(work: Work): void {
    this.waiting.delete(work);
    if (this.parts.isStopping()) {
      this.parts.unfinished.add(work.delivery);
      return;
    }
    if (this.parts.startNow(work)) return;
    this.ready.push(work);
    this.parts.wake();
  }

  /** At stop: every retry not begun (waiting or due) is handed back unacknowledged. */
  giveUp(): void {
    const { clock, unfinished } = this.parts;
    for (const work of this.waiting) {
      clock.clearTimeout(work.timer);
      unfinished.add(work.delivery);
    }
    for (const work of this.ready) unfinished.add(work.delivery);
    this.waiting.clear();
    this.ready.length = 0;
  }
}
