/** An opaque handle returned by a clock's timer functions. */
export type Timer = unknown;

/**
 * Time as the dispatcher sees it. The system clock is the real one; tests pass a clock they advance
 * by hand, so timeouts, retry delays and the breaker are tested without real sleeps.
 */
export interface Clock {
  /** Monotonic milliseconds, for deadlines and durations. */
  now(): number;
  /** Milliseconds since the epoch, for the timestamps written into dead letters. */
  epochMs(): number;
  setTimeout(callback: () => void, ms: number): Timer;
  clearTimeout(timer: Timer): void;
  /** A periodic check; it never keeps the process alive on its own. */
  setInterval(callback: () => void, ms: number): Timer;
  clearInterval(timer: Timer): void;
}

export const SYSTEM_CLOCK: Clock = {
  now: () => performance.now(),
  epochMs: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
  setInterval: (callback, ms) => setInterval(callback, ms).unref(),
  clearInterval: (timer) => clearInterval(timer as NodeJS.Timeout),
};
