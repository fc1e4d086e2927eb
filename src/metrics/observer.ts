import type { Counter, Gauge } from 'prom-client';
import type { HistogramSeries } from './fast-histogram.ts';
import { DEAD_LETTER_REASONS, type DeadLetterReason } from '../outputs/dead-letter.ts';
import { BREAKER_STATE_VALUE, type BreakerState } from '../resilience/circuit-breaker.ts';
import type { Outcome, PipelineObserver } from './pipeline-observer.ts';
import { OUTCOMES, type PythiaMetrics } from './registry.ts';

type CounterChild = Counter.Internal;
type GaugeChild = Gauge.Internal<string>;

/**
 * The dispatcher's observer for one pipeline. The per-message calls (outcome, duration, inFlight) are
 * plain arithmetic on numbers of its own: prom-client hashes the label values on every call, even
 * through a labels() child. The counts reach prom-client at scrape time (flush(), run by the
 * registry's collect hooks); the rarer calls (retries, dead letters, breaker) go to it directly.
 */
export class MetricsObserver implements PipelineObserver {
  private readonly outcomes: Record<Outcome, CounterChild>;
  /** Outcomes counted since the last flush, in OUTCOMES order. */
  private readonly unflushed = new Float64Array(OUTCOMES.length);
  private current = 0;
  private readonly reasons: Record<DeadLetterReason, CounterChild>;
  private readonly durationSeries: HistogramSeries;
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
    this.durationSeries = metrics.duration.series({ pipeline });
    this.inFlightChild = metrics.inFlight.labels({ pipeline });
    this.retriesChild = metrics.retries.labels({ pipeline });
    this.breakerChild = metrics.breakerState.labels({ pipeline });
    this.rateLimitWaitChild = metrics.rateLimitWait.labels({ pipeline });
    // Every series exists from the first scrape (at 0): rate() and absent() work from the start.
    for (const child of [...Object.values(this.outcomes), ...Object.values(this.reasons), this.retriesChild, this.rateLimitWaitChild])
      child.inc(0);
    this.inFlightChild.set(0);
    this.breakerChild.set(0);
    const flush = () => this.flush();
    metrics.onScrape('messages', flush);
    metrics.onScrape('inFlight', flush);
  }

  outcome(outcome: Outcome, count = 1): void {
    const i = OUTCOME_INDEX[outcome];
    this.unflushed[i] = (this.unflushed[i] as number) + count;
  }

  duration(seconds: number): void {
    this.durationSeries.observe(seconds);
  }

  inFlight(count: number): void {
    this.current = count;
  }

  /** Hands the counts kept since the last call to prom-client (at scrape time). */
  flush(): void {
    for (let i = 0; i < OUTCOMES.length; i++) {
      const count = this.unflushed[i] as number;
      if (count === 0) continue;
      this.unflushed[i] = 0;
      this.outcomes[OUTCOMES[i] as Outcome].inc(count);
    }
    this.inFlightChild.set(this.current);
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

const OUTCOME_INDEX = Object.fromEntries(OUTCOMES.map((outcome, i) => [outcome, i])) as Record<Outcome, number>;
