import { TimeoutError } from '../errors.ts';
import type { Work } from './attempt.ts';
import type { Clock, Timer } from './clock.ts';

/** Fails an attempt that ran past its deadline: the dispatcher's attempt-failed path. */
export type AttemptTimedOut = (work: Work, attemptId: number, error: TimeoutError, started: number) => void;

/**
 * One timer checks every running attempt's deadline, instead of a timer and a promise per message.
 * It ticks at a twentieth of the timeout (5 ms to 1 s), so an attempt overruns its deadline by that
 * much at most. A timed-out attempt's signal is aborted, then it fails like any other attempt.
 */
export function startDeadlineSweeper(clock: Clock, timeoutMs: number, running: ReadonlySet<Work>, timedOut: AttemptTimedOut): Timer {
  const every = Math.min(1000, Math.max(5, Math.floor(timeoutMs / 20)));
  return clock.setInterval(() => {
    const now = clock.now();
    for (const work of running) {
      if (work.attemptId !== 0 && now >= work.deadline) {
        const error = new TimeoutError(timeoutMs);
        work.context?.abort(error);
        timedOut(work, work.attemptId, error, work.deadline - timeoutMs);
      }
    }
  }, every);
}
