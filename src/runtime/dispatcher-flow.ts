import type { OrderingGate, Permits } from '../flow/index.ts';
import type { Delivery, Source } from '../sources/source.ts';
import type { Work } from './attempt.ts';

/** What the pipeline gives the dispatcher for flow control; both are absent unless configured. */
export interface FlowParts {
  /** rate_limit: a permit per message before it is fetched, and per retry before its attempt. */
  permits?: Permits;
  /** ordering: messages of one key one at a time (the dispatcher's source is the one it wraps). */
  ordering?: OrderingGate<Work>;
}

/**
 * The dispatcher's side of flow control (src/flow, docs/flow-control.md): rate_limit permits, taken
 * before a fetch and before a retry, and the ordering gate, which holds a message back until its
 * key's turn and then hands it over through `ready`.
 */
export class DispatcherFlow {
  /** Messages whose key's turn came, waiting for a slot; they already hold their permit. */
  readonly ready: Work[] = [];

  private readonly permits: Permits | undefined;
  private readonly ordering: OrderingGate<Work> | undefined;

  constructor({ permits, ordering }: FlowParts, wake: () => void) {
    this.permits = permits;
    this.ordering = ordering;
    if (ordering)
      ordering.onReady = (work) => {
        this.ready.push(work);
        wake();
      };
  }

  /** Starts up to `slots` of the ready messages; whether any started. */
  startReady(slots: number, attempt: (work: Work) => void): boolean {
    if (slots <= 0 || this.ready.length === 0) return false;
    for (const work of this.ready.splice(0, slots)) attempt(work);
    return true;
  }

  /** Whether a retry must take a permit before its attempt. */
  get limited(): boolean {
    return this.permits !== undefined;
  }

  /** Messages held for their key: they hold no slot, and count toward the dispatcher's bound on parked messages. */
  get held(): number {
    return this.ordering?.held ?? 0;
  }

  /** Up to `wanted` permits, waiting for one at least; 0 once interrupted. */
  take(wanted: number): Promise<number> {
    return this.permits ? this.permits.take(wanted) : Promise.resolve(wanted);
  }

  /** The source's fetch of `count` permitted messages; permits it did not use are given back. */
  fetch(source: Source, count: number): Promise<Delivery[]> {
    return source.fetch(count).then(
      (deliveries) => {
        this.permits?.giveBack(count - deliveries.length);
        return deliveries;
      },
      (error: unknown) => {
        this.permits?.giveBack(count);
        throw error;
      },
    );
  }

  /** False: the message waits for its key (it comes back through `ready`). */
  enter(work: Work): boolean {
    return this.ordering?.enter(work) !== false;
  }

  interrupt(): void {
    this.permits?.interrupt();
  }

  /** At stop: the messages held back or ready, which never started (they are handed back unacknowledged). */
  drain(): Work[] {
    const held = [...this.ready, ...(this.ordering?.drain() ?? [])];
    this.ready.length = 0;
    return held;
  }
}
