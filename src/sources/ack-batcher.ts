import { retryForever } from '../redis/retry-forever.ts';

/**
 * Collects acknowledgements and sends them in one command per tick, so a batch of messages that
 * finish together costs one round trip. Failed sends are retried; nothing is dropped.
 */
export class AckBatcher<T> {
  private pending: T[] = [];
  private scheduled = false;
  private sending = false;
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
    // One send at a time, and the batch is formed when it starts: acks that arrive during a round
    // trip wait for it and go together in the next command. (Chaining one command per tick instead
    // queued thousands of small sends behind each other, so acks lagged seconds behind the work and a
    // kill -9 redelivered thousands of finished messages, far beyond the in-flight bound.)
    if (this.sending || this.pending.length === 0) return;
    this.sending = true;
    const items = this.pending.length > this.maxBatch ? this.pending.splice(0, this.maxBatch) : this.pending;
    if (items === this.pending) this.pending = [];
    // After 50 failed tries the acks are abandoned: the messages stay unacknowledged and are redelivered, never lost.
    this.inFlight = this.sendWithRetry(items)
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        this.sending = false;
        this.kick();
      });
  }

  private sendWithRetry(items: T[]): Promise<unknown> {
    return retryForever(
      () => this.send(items),
      (error, tries) => {
        this.onError(error, items.length);
        return tries < 50;
      },
    );
  }

  /** Resolves when everything added so far has been sent. */
  async flush(): Promise<void> {
    this.kick();
    while (this.sending) await this.inFlight;
  }
}
