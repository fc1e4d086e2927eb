import type { Counter, Gauge, Histogram } from 'prom-client';
import { DEAD_LETTER_REASONS, type DeadLetterReason } from '../outputs/dead-letter.ts';
import { BREAKER_STATE_VALUE, type BreakerState } from '../resilience/circuit-breaker.ts';
import type { Outcome, PipelineObserver } from './pipeline-observer.ts';
import { OUTCOMES, type PythiaMetrics } from './registry.ts';

type CounterChild = Counter.Internal;
type GaugeChild = Gauge.Internal<string>;

/**
 * The dispatcher's observer for one pipeline. Every label child is resolved once, here: a call on
 * the hot path is a property read and an add, with no label hashing and no allocation.
 */
export class MetricsObserver implements PipelineObserver {
  private readonly outcomes: Record<Outcome, CounterChild>;
  private readonly reasons: Record<DeadLetterReason, CounterChild>;
  private readonly durationChild: Histogram.Internal<string>;
  private readonly inFlightChild: GaugeChild;
  private readonly retriesChild: CounterChild;
  private readonly breakerChild: GaugeChild;
  private readonly rateLimitWaitChild: CounterChild;

  constructor(
    private readonly metrics: PythiaMetrics,
    private readonly pipeline: string,
    source: string,
  ) {
    this.outcomes = Object.fromEntries(
      OUTCOMES.map((outcome) => [outcome, metrics.messages.labels({ pipeline, source, outcome })]),
    ) as Record<Outcome, CounterChild>;
    this.reasons = Object.fromEntries(
      DEAD_LETTER_REASONS.map((reason) => [reason, metrics.deadLetters.labels({ pipeline, reason })]),
    ) as Record<DeadLetterReason, CounterChild>;
    this.durationChild = metrics.duration.labels({ pipeline });
    this.inFlightChild = metrics.inFlight.labels({ pipeline });
    this.retriesChild = metrics.retries.labels({ pipeline });
    this.breakerChild = metrics.breakerState.labels({ pipeline });
    this.rateLimitWaitChild = metrics.rateLimitWait.labels({ pipeline });
    // Every series exists from the first scrape (at 0): rate() and absent() work from the start.
    for (const child of [...Object.values(this.outcomes), ...Object.values(this.reasons), this.retriesChild, this.rateLimitWaitChild])
      child.inc(0);
    this.inFlightChild.set(0);
    this.breakerChild.set(0);
  }

  outcome(outcome: Outcome, count = 1): void {
    this.outcomes[outcome].inc(count);
  }

  duration(seconds: number): void {
    this.durationChild.observe(seconds);
  }

  inFlight(count: number): void {
    this.inFlightChild.set(count);
  }

  retry(): void {
    this.retriesChild.inc();
  }

  deadLetter(reason: DeadLetterReason): void {
    const child = this.reasons[reason] as CounterChild | undefined;
    if (child) child.inc();
    else this.metrics.deadLetters.labels({ pipeline: this.pipeline, reason }).inc();
  }

  rateLimitWait(seconds: number): void {
    this.rateLimitWaitChild.inc(seconds);
  }

  breaker(state: BreakerState): void {
    this.breakerChild.set(BREAKER_STATE_VALUE[state]);
  }

  /** Adds messages dropped by the source since the last call (the channel source counts them itself). */
  addDropped(count: number): void {
    if (count > 0) this.outcomes.dropped.inc(count);
  }
}
