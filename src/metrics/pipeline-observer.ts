import type { DeadLetterReason } from '../outputs/dead-letter.ts';
import type { BreakerState } from '../resilience/circuit-breaker.ts';

export type Outcome = 'ok' | 'retried' | 'dead_lettered' | 'dropped';

/** What the dispatcher reports as it works; metrics implement it. Calls are on the hot path: keep them cheap. */
export interface PipelineObserver {
  outcome(outcome: Outcome, count?: number): void;
  /** Seconds from the start of the attempt to its end. */
  duration(seconds: number): void;
  inFlight(count: number): void;
  retry(): void;
  deadLetter(reason: DeadLetterReason): void;
  breaker(state: BreakerState): void;
  /** Seconds the dispatcher waited for rate_limit permits (one call per wait that ended). */
  rateLimitWait?(seconds: number): void;
}

export const NO_OBSERVER: PipelineObserver = {
  outcome() {},
  duration() {},
  inFlight() {},
  retry() {},
  deadLetter() {},
  breaker() {},
  rateLimitWait() {},
};
