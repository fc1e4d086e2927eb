import type { Delivery, Source } from '../../src/sources/source.ts';

/**
 * A Source held in memory, for driving the dispatcher without Redis. fetch() answers at once when
 * messages wait and otherwise blocks until push() or interrupt(), like a blocking Redis read.
 * It records what it was asked for, so tests check backpressure and acknowledgements.
 */
export class MemorySource implements Source {
  readonly kind = 'list';
  readonly name = 'memory';
  readonly key = 'memory';
  /** The `max` of every fetch, in order. */
  readonly fetches: number[] = [];
  readonly acked: Delivery[] = [];
  flushes = 0;
  closedWith: Delivery[] | undefined;
  private readonly queue: Delivery[] = [];
  /** Fetches waiting for messages, answered in order (a Redis connection runs commands in order). */
  private readonly blocked: { max: number; resolve: (deliveries: Delivery[]) => void }[] = [];
  private interrupted = false;
  private lastId = 0;

  /** @param events a log shared with other fakes, to check the order of side effects */
  constructor(private readonly events: string[] = []) {}

  /** Queues messages; `deliveryCount` > 1 stands for a redelivered message. */
  push(bodies: string[], deliveryCount = 1): Delivery[] {
    const added = bodies.map((body) => {
      const id = String(++this.lastId);
      const raw = Buffer.from(body);
      return { id, raw, fields: {}, origin: { kind: 'list', key: this.key }, deliveryCount, receivedAt: 0, token: raw } as Delivery;
    });
    this.queue.push(...added);
    while (this.blocked.length > 0 && this.queue.length > 0) {
      const { max, resolve } = this.blocked.shift() as (typeof this.blocked)[number];
      resolve(this.queue.splice(0, max));
    }
    return added;
  }

  get queued(): number {
    return this.queue.length;
  }

  async start(): Promise<void> {}

  fetch(max: number): Promise<Delivery[]> {
    this.fetches.push(max);
    if (this.interrupted) return Promise.resolve([]);
    if (this.queue.length > 0 && this.blocked.length === 0) return Promise.resolve(this.queue.splice(0, max));
    return new Promise((resolve) => this.blocked.push({ max, resolve }));
  }

  ack(delivery: Delivery): void {
    this.acked.push(delivery);
    this.events.push(`ack ${delivery.id}`);
  }

  async flush(): Promise<void> {
    this.flushes++;
  }

  interrupt(): void {
    this.interrupted = true;
    for (const { resolve } of this.blocked.splice(0)) resolve([]);
  }

  async close(unfinished: Delivery[]): Promise<void> {
    this.closedWith = unfinished;
  }

  dropped(): number {
    return 0;
  }
}
