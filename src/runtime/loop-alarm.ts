import type { Clock } from './clock.ts';

/**
 * The fetch loop's sleep: it waits for a timeout or for the first wake, whichever comes first. Slots
 * freed by completions, a breaker changing state, a retry falling due or a fetch returning wake it.
 */
export class LoopAlarm {
  /** Resolves the fetch loop's current sleep. */
  private wake: (() => void) | undefined;
  private wakeScheduled = false;

  constructor(private readonly clock: Clock) {}

  /** Ends the current sleep now, if the loop sleeps. */
  wakeNow(): void {
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
  wakeSoon(): void {
    if (this.wakeScheduled || !this.wake) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      this.wakeNow();
    });
  }

  /** Sleeps up to `ms`, or until wakeNow(). */
  sleep(ms: number): Promise<void> {
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
}
