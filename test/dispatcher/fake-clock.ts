import type { Clock, Timer } from '../../src/runtime/clock.ts';

interface Scheduled {
  at: number;
  callback: () => void;
  /** Set for intervals. */
  every: number | undefined;
}

/** Lets pending promise callbacks and setImmediate work run (several turns of the event loop; no timers). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** A clock that moves only when told: timers fire in order of due time inside advance(). */
export class FakeClock implements Clock {
  private time = 0;
  private lastId = 0;
  private readonly timers = new Map<number, Scheduled>();

  now(): number {
    return this.time;
  }

  epochMs(): number {
    return 1_800_000_000_000 + this.time;
  }

  setTimeout(callback: () => void, ms: number): Timer {
    this.timers.set(++this.lastId, { at: this.time + Math.max(0, ms), callback, every: undefined });
    return this.lastId;
  }

  clearTimeout(timer: Timer): void {
    this.timers.delete(timer as number);
  }

  setInterval(callback: () => void, ms: number): Timer {
    const every = Math.max(1, ms);
    this.timers.set(++this.lastId, { at: this.time + every, callback, every });
    return this.lastId;
  }

  clearInterval(timer: Timer): void {
    this.timers.delete(timer as number);
  }

  /** Timers not yet fired or cleared. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing each due timer at its own time and letting its work settle. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    await settle(); // timers that work already under way is about to set count too
    for (;;) {
      let nextId: number | undefined;
      let next: Scheduled | undefined;
      for (const [id, timer] of this.timers) {
        if (timer.at <= end && (next === undefined || timer.at < next.at)) [nextId, next] = [id, timer];
      }
      if (next === undefined || nextId === undefined) break;
      this.time = next.at;
      if (next.every === undefined) this.timers.delete(nextId);
      else next.at += next.every;
      next.callback();
      await settle();
    }
    this.time = end;
    await settle();
  }
}
