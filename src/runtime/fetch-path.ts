import type { Logger } from 'pino';
import type { Delivery, Source } from '../sources/source.ts';
import type { DispatcherFlow } from './dispatcher-flow.ts';

/** Fetches outstanding at once: two keep the connection busy while a batch is being dispatched. */
const MAX_FETCHES_IN_FLIGHT = 2;

export interface FetchPathParts {
  source: Source;
  /** Fetches through flow control: rate_limit permits a fetch did not use are given back. */
  flow: Pick<DispatcherFlow, 'fetch'>;
  logger: Logger;
  /** True once the dispatcher stops: deliveries fetched from then on are left unacknowledged. */
  isStopping: () => boolean;
  /** Concurrency slots free now (within what the circuit breaker allows). */
  freeSlots: () => number;
  /** A fetched delivery's way in: admission, then its first attempt, its key's turn or its dead letter. */
  begin: (delivery: Delivery) => void;
  /** Deliveries left unacknowledged, handed back at stop. */
  unfinished: Set<Delivery>;
  /** Wakes the fetch loop when a fetch returns or fails. */
  wake: () => void;
}

/**
 * The dispatcher's way in from the source: fetches in flight, the capacity promised to them, and the
 * deliveries fetched beyond the room left when a fetch returned, which begin as slots free up.
 */
export class FetchPath {
  /** Capacity promised to fetches that have not returned yet. */
  private promised = 0;
  private readonly fetching = new Set<Promise<void>>();
  /** Fetched beyond the room left when the fetch returned (retries started meanwhile, or the breaker opened). */
  private readonly fetched: Delivery[] = [];

  constructor(private readonly parts: FetchPathParts) {}

  /** Capacity promised to fetches in flight: it counts as taken. */
  get reserved(): number {
    return this.promised;
  }

  get inFlight(): number {
    return this.fetching.size;
  }

  /** No further fetch goes out until one in flight returns. */
  get full(): boolean {
    return this.fetching.size >= MAX_FETCHES_IN_FLIGHT;
  }

  /** Begins up to `free` of the deliveries fetched earlier beyond the room; false when there are none. */
  beginFetched(free: number): boolean {
    if (this.fetched.length === 0) return false;
    for (const delivery of this.fetched.splice(0, free)) this.parts.begin(delivery);
    return true;
  }

  /** Fetches up to `count` deliveries (their permits already taken); they begin as soon as it returns. */
  fetch(count: number): void {
    const { parts } = this;
    this.promised += count;
    const pending = parts.flow.fetch(parts.source, count).then(
      (deliveries) => {
        this.promised -= count;
        this.fetching.delete(pending);
        // Fetched after stop() began: left unacknowledged, so the source's close() hands them back.
        if (!parts.isStopping()) {
          const room = parts.freeSlots();
          for (let i = 0; i < deliveries.length; i++) {
            if (i < room) parts.begin(deliveries[i] as Delivery);
            else this.fetched.push(deliveries[i] as Delivery);
          }
        }
        parts.wake();
      },
      (error: unknown) => {
        this.promised -= count;
        this.fetching.delete(pending);
        parts.logger.error({ err: error }, 'fetch failed');
        parts.wake();
      },
    );
    this.fetching.add(pending);
  }

  /** Resolves once every fetch in flight has returned. */
  settled(): Promise<unknown> {
    return Promise.all(this.fetching);
  }

  /** At stop: the deliveries fetched but not begun are handed back unacknowledged. */
  giveUp(): void {
    for (const delivery of this.fetched) this.parts.unfinished.add(delivery);
    this.fetched.length = 0;
  }
}
