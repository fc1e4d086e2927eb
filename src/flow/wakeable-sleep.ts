/** A sleep that interrupt() can end early: the waits of the rate limiter and the ordering lock. */
export class WakeableSleep {
  private wake: (() => void) | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** Ends the sleep in progress, if any, now. */
  wakeNow(): void {
    this.wake?.();
  }
}
