export type BreakerState = 'closed' | 'half-open' | 'open';

/** The metric value of each state (pythia_circuit_breaker_state). */
export const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

export interface BreakerSettings {
  enabled: boolean;
  failure_threshold: number;
  reset_timeout_ms: number;
  half_open_max_calls: number;
}

/**
 * closed → open after failure_threshold consecutive failures; open → half-open after reset_timeout_ms,
 * letting half_open_max_calls trial messages through; half-open → closed on a success, → open on a failure.
 * The dispatcher asks `capacity()` before fetching, so nothing is consumed while the breaker is open.
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private trialsStarted = 0;

  constructor(
    private readonly settings: BreakerSettings,
    private readonly onChange: (state: BreakerState) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.settings.reset_timeout_ms) this.transition('half-open');
    return this.current;
  }

  /** How many new messages may start now (Infinity when closed or disabled). */
  capacity(): number {
    if (!this.settings.enabled) return Infinity;
    switch (this.state) {
      case 'closed':
        return Infinity;
      case 'open':
        return 0;
      case 'half-open':
        return Math.max(0, this.settings.half_open_max_calls - this.trialsStarted);
    }
  }

  /** Milliseconds until an open breaker half-opens (0 when not open). */
  msUntilHalfOpen(): number {
    return this.current === 'open' ? Math.max(0, this.openedAt + this.settings.reset_timeout_ms - this.now()) : 0;
  }

  /** Records that a message started while half-open (it is a trial call). */
  started(): void {
    if (this.current === 'half-open') this.trialsStarted++;
  }

  success(): void {
    if (!this.settings.enabled) return;
    this.failures = 0;
    if (this.current === 'half-open') this.transition('closed');
  }

  failure(): void {
    if (!this.settings.enabled) return;
    this.failures++;
    if (this.current === 'half-open' || (this.current === 'closed' && this.failures >= this.settings.failure_threshold))
      this.transition('open');
  }

  private transition(next: BreakerState): void {
    if (next === this.current) return;
    this.current = next;
    if (next === 'open') this.openedAt = this.now();
    if (next === 'half-open') this.trialsStarted = 0;
    if (next === 'closed') this.failures = 0;
    this.onChange(next);
  }
}
