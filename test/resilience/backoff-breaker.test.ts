import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { retryDelay, type BackoffPolicy } from '../../src/resilience/backoff.ts';
import { CircuitBreaker, type BreakerState } from '../../src/resilience/circuit-breaker.ts';

const policy: BackoffPolicy = { retry_delay_ms: 1000, retry_backoff: 2, retry_max_delay_ms: 60_000, retry_jitter: 0.2 };
const middle = () => 0.5; // no jitter: 2 × 0.5 − 1 = 0
const lowest = () => 0; // −jitter
const highest = () => 1; // +jitter (Math.random never returns 1, but the formula is linear)

describe('retryDelay', () => {
  it('grows as retry_delay_ms × retry_backoff^(attempt−1)', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => retryDelay(policy, n, middle)),
      [1000, 2000, 4000, 8000, 16000, 32000],
    );
    assert.deepEqual(
      [1, 2, 3].map((n) => retryDelay({ ...policy, retry_backoff: 1.5 }, n, middle)),
      [1000, 1500, 2250],
    );
    assert.deepEqual(
      [1, 2, 3].map((n) => retryDelay({ ...policy, retry_backoff: 1 }, n, middle)),
      [1000, 1000, 1000],
    );
  });

  it('is capped at retry_max_delay_ms, even for huge attempt numbers', () => {
    assert.equal(retryDelay(policy, 7, middle), 60_000);
    assert.equal(retryDelay(policy, 100, middle), 60_000);
    assert.equal(retryDelay(policy, 10_000, middle), 60_000);
  });

  it('varies by ± retry_jitter of the delay, linearly in the random draw', () => {
    assert.equal(retryDelay(policy, 1, lowest), 800);
    assert.equal(retryDelay(policy, 1, highest), 1200);
    assert.equal(
      retryDelay(policy, 3, () => 0.25),
      3600,
    ); // 4000 × (1 − 0.1)
    assert.equal(
      retryDelay(policy, 3, () => 0.75),
      4400,
    );
    // The jitter applies after the cap, so capped retries of many messages still spread out.
    assert.equal(retryDelay(policy, 20, lowest), 48_000);
    assert.equal(retryDelay(policy, 20, highest), 72_000);
  });

  it('stays within bounds for random draws', () => {
    for (let i = 0; i < 1000; i++) {
      const d = retryDelay(policy, 2);
      assert.ok(d >= 1600 && d <= 2400, `delay ${d}`);
    }
  });

  it('without jitter ignores the random draw; never negative; attempt < 1 counts as 1', () => {
    const exact = { ...policy, retry_jitter: 0 };
    assert.equal(retryDelay(exact, 2, lowest), 2000);
    assert.equal(retryDelay(exact, 2, highest), 2000);
    assert.equal(retryDelay({ ...policy, retry_jitter: 1 }, 1, lowest), 0);
    assert.equal(retryDelay(exact, 0, middle), 1000);
    assert.equal(retryDelay({ ...exact, retry_delay_ms: 0 }, 5, middle), 0);
  });
});

class FakeClock {
  t = 1_000_000;
  now = () => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

function breaker(overrides: Partial<ConstructorParameters<typeof CircuitBreaker>[0]> = {}) {
  const clock = new FakeClock();
  const changes: BreakerState[] = [];
  const b = new CircuitBreaker(
    { enabled: true, failure_threshold: 3, reset_timeout_ms: 1000, half_open_max_calls: 1, ...overrides },
    (s) => changes.push(s),
    clock.now,
  );
  return { b, clock, changes };
}

describe('CircuitBreaker (fake clock)', () => {
  it('opens after failure_threshold consecutive failures; a success resets the count', () => {
    const { b, changes } = breaker();
    b.failure();
    b.failure();
    b.success();
    b.failure();
    b.failure();
    assert.equal(b.state, 'closed');
    assert.equal(b.capacity(), Infinity);
    b.failure();
    assert.equal(b.state, 'open');
    assert.equal(b.capacity(), 0);
    assert.deepEqual(changes, ['open']);
  });

  it('half-opens after reset_timeout_ms, lets half_open_max_calls trials through, closes on success', () => {
    const { b, clock, changes } = breaker({ half_open_max_calls: 2 });
    for (let i = 0; i < 3; i++) b.failure();
    assert.equal(b.msUntilHalfOpen(), 1000);
    clock.advance(999);
    assert.equal(b.state, 'open');
    assert.equal(b.capacity(), 0);
    assert.equal(b.msUntilHalfOpen(), 1);
    clock.advance(1);
    assert.equal(b.state, 'half-open');
    assert.equal(b.msUntilHalfOpen(), 0);
    assert.equal(b.capacity(), 2);
    b.started();
    assert.equal(b.capacity(), 1);
    b.started();
    assert.equal(b.capacity(), 0, 'no more trials than half_open_max_calls');
    b.success();
    assert.equal(b.state, 'closed');
    assert.equal(b.capacity(), Infinity);
    assert.deepEqual(changes, ['open', 'half-open', 'closed']);
    // Closed again: it takes failure_threshold new failures to open it.
    b.failure();
    b.failure();
    assert.equal(b.state, 'closed');
  });

  it('a failed trial opens it again for a full reset_timeout_ms', () => {
    const { b, clock, changes } = breaker();
    for (let i = 0; i < 3; i++) b.failure();
    clock.advance(1000);
    assert.equal(b.capacity(), 1);
    b.started();
    clock.advance(300);
    b.failure();
    assert.equal(b.state, 'open');
    assert.equal(b.msUntilHalfOpen(), 1000);
    clock.advance(999);
    assert.equal(b.state, 'open');
    clock.advance(1);
    assert.equal(b.state, 'half-open');
    assert.equal(b.capacity(), 1, 'a new half-open period allows new trials');
    assert.deepEqual(changes, ['open', 'half-open', 'open', 'half-open']);
  });

  it('more failures while open do not extend the open period', () => {
    const { b, clock } = breaker();
    for (let i = 0; i < 3; i++) b.failure();
    clock.advance(600);
    b.failure(); // a message that was already in flight
    clock.advance(400);
    assert.equal(b.state, 'half-open');
  });

  it('disabled: never opens', () => {
    const { b, changes } = breaker({ enabled: false });
    for (let i = 0; i < 100; i++) b.failure();
    assert.equal(b.state, 'closed');
    assert.equal(b.capacity(), Infinity);
    assert.deepEqual(changes, []);
  });
});
