/**
 * Collects acknowledgements and sends them in one command per tick, so a batch of messages that
 * finish together costs one round trip. Failed sends are retried; nothing is dropped.
 */
export class AckBatcher<T> {
  private pending: T[] = [];
  private scheduled = false;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly send: (items: T[]) => Promise<unknown>,
    private readonly onError: (error: unknown, count: number) => void,
    private readonly maxBatch = 1000,
  ) {}

  add(item: T): void {
    this.pending.push(item);
    if (this.pending.length >= this.maxBatch) {
      this.kick();
    } else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.kick());
    }
  }

  get size(): number {
    return this.pending.length;
  }

  private kick(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const items = this.pending;
    this.pending = [];
    // After 50 failed tries the acks are abandoned: the messages stay unacknowledged and are redelivered, never lost.
    this.inFlight = this.inFlight.then(() => this.sendWithRetry(items)).catch(() => undefined);
  }

  private async sendWithRetry(items: T[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.send(items);
        return;
      } catch (error) {
        this.onError(error, items.length);
        if (attempt >= 50) throw error;
        await new Promise((r) => setTimeout(r, Math.min(100 * attempt, 2000)));
      }
    }
  }

  /** Resolves when everything added so far has been sent. */
  async flush(): Promise<void> {
    this.kick();
    await this.inFlight;
  }
}
