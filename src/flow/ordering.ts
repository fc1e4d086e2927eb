import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { MAX_ORDERING_KEY_LENGTH, orderingKeyOf, type OrderingKeySpec } from '../config/ordering-key.ts';
import type { Delivery, Source } from '../sources/source.ts';
import type { OrderTickets, Ticket } from './order-tickets.ts';

/** A delivery's headers and body bytes (the runtime's opener: see runtime/decode.ts). */
export type OpenDelivery = (delivery: Delivery) => { ok: true; raw: Buffer; headers: Readonly<Record<string, string>> } | { ok: false };

/** A message's place in the order of its key. */
interface Place {
  key: string;
  /** Its ticket in Redis (none for a channel source: every worker gets every message, order is per process). */
  ticket: Ticket | undefined;
  /** Another worker's ticket was ahead at registration: its turn is confirmed in Redis before it runs. */
  foreignAhead: boolean;
  /** The message fetched right before it with the same key, when its ticket came right behind that one's. */
  follows?: Place;
  /** Whether the dispatcher asked enter() for it (a message dead-lettered on arrival never is). */
  entered?: boolean;
}

/** The messages of one key this worker holds, in fetch order, and how many of them run. */
interface Lane<T> {
  works: T[];
  running: Set<T>;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });
/** How often the turn of waiting messages is asked of Redis: soon after a change, then less often. */
const POLL_MIN_MS = 2;
const POLL_MAX_MS = 20;

/**
 * `ordering`: messages with the same key run at most `maxInFlight` at once, in fetch order. The
 * dispatcher asks enter() before a message's first attempt; a message that must wait holds no
 * concurrency slot and is handed back through `onReady` when its turn comes. A message's turn ends
 * when it is acknowledged (processed or dead-lettered): a retry keeps it, so it holds back the later
 * messages of its key. Across workers the order is kept by OrderTickets (see docs/flow-control.md).
 */
export class OrderingGate<T extends { delivery: Delivery }> {
  /** Places of fetched messages not yet acknowledged (registered at fetch, even those dead-lettered at once). */
  private readonly places = new Map<Delivery, Place>();
  private readonly lanes = new Map<string, Lane<T>>();
  private readonly awaitingTurn = new Set<T>();
  private heldCount = 0;
  private pollTimer: NodeJS.Timeout | undefined;
  private pollMs = POLL_MIN_MS;
  private polling = false;
  private releases: Ticket[] = [];
  private releaseScheduled = false;
  private releasing: Promise<void> = Promise.resolve();
  private closed = false;
  /** Called when a held message may run now (the dispatcher gives it a slot). */
  onReady: (work: T) => void = () => undefined;

  constructor(
    private readonly spec: OrderingKeySpec,
    private readonly maxInFlight: number,
    private readonly open: OpenDelivery,
    private readonly tickets: OrderTickets | undefined,
    private readonly logger: Logger,
  ) {}

  /** Messages waiting for their key (they are unfinished when the worker stops). */
  get held(): number {
    return this.heldCount;
  }

  /** The key of a delivery, or undefined (no key: processed without ordering). Long keys become a digest. */
  keyOf(delivery: Delivery): string | undefined {
    const opened = this.open(delivery);
    if (!opened.ok) return undefined;
    let body: unknown;
    if (this.spec.kind === 'pointer') {
      try {
        body = JSON.parse(UTF8.decode(opened.raw));
      } catch {
        return undefined;
      }
    }
    const key = orderingKeyOf(this.spec, body, opened.headers);
    if (key === undefined || key.length <= MAX_ORDERING_KEY_LENGTH) return key;
    return `sha1:${createHash('sha1').update(key).digest('hex')}`;
  }

  /** True: the message may run now. False: it waits for its key (onReady is called when it may). */
  enter(work: T): boolean {
    let place = this.places.get(work.delivery);
    if (!place) {
      // Not registered at fetch: a channel source (order per process), or a message without a key.
      const key = this.tickets ? undefined : this.keyOf(work.delivery);
      if (key === undefined) return true;
      place = { key, ticket: undefined, foreignAhead: false };
      this.places.set(work.delivery, place);
    }
    place.entered = true;
    // Right behind a message that never entered (dead-lettered on arrival): this worker cannot tell its turn alone.
    if (place.follows && !place.follows.entered) place.foreignAhead = true;
    let lane = this.lanes.get(place.key);
    if (!lane) this.lanes.set(place.key, (lane = { works: [], running: new Set() }));
    lane.works.push(work);
    if (place.foreignAhead) {
      // Its turn is Redis's to tell (see poll), wherever it sits in this worker's lane.
      this.awaitingTurn.add(work);
      this.schedulePoll(POLL_MIN_MS);
    } else {
      this.admitFrom(lane, work);
      if (lane.running.has(work)) return true;
    }
    this.heldCount++;
    return false;
  }

  /**
   * Starts those of the lane's first maxInFlight messages that are not running and whose turn this
   * worker can tell alone: every ticket ahead of theirs was this worker's. `entering` is started without
   * onReady (enter() returns true for it); any other is a held one.
   */
  private admitFrom(lane: Lane<T>, entering?: T): void {
    const end = Math.min(lane.works.length, this.maxInFlight);
    for (let i = 0; i < end; i++) {
      const work = lane.works[i] as T;
      if (lane.running.has(work) || this.awaitingTurn.has(work)) continue;
      this.start(lane, work, work === entering);
    }
  }

  private start(lane: Lane<T>, work: T, entering: boolean): void {
    lane.running.add(work);
    if (entering) return;
    this.heldCount--;
    this.onReady(work);
  }

  /** A delivery is acknowledged: its key's next message may run, and its ticket goes. */
  finished(delivery: Delivery): void {
    const place = this.places.get(delivery);
    if (!place) return;
    this.places.delete(delivery);
    if (place.ticket) this.scheduleRelease(place.ticket);
    const lane = this.lanes.get(place.key);
    if (!lane) return;
    const index = lane.works.findIndex((w) => w.delivery === delivery);
    if (index === -1) return; // dead-lettered before it entered (undecodable, oversized)
    const [work] = lane.works.splice(index, 1) as [T];
    lane.running.delete(work);
    // Its ticket goes now: a message of this worker waiting behind it may be next.
    if (this.awaitingTurn.size > 0) this.schedulePoll(POLL_MIN_MS);
    if (lane.works.length === 0) this.lanes.delete(place.key);
    else this.admitFrom(lane);
  }

  /** At shutdown: the held messages, which never started (they are handed back to the source). */
  drain(): T[] {
    this.closed = true;
    clearTimeout(this.pollTimer);
    const held: T[] = [];
    for (const lane of this.lanes.values()) for (const work of lane.works) if (!lane.running.has(work)) held.push(work);
    this.awaitingTurn.clear();
    this.heldCount = 0;
    return held;
  }

  /** The source, with fetches registered in order (Redis) and acknowledgements ending a message's turn. */
  wrap(source: Source): Source {
    return new OrderedSource(source, this, this.tickets);
  }

  /** Registers a fetch's messages (the fetch lock is held). */
  async register(token: string, deliveries: readonly Delivery[]): Promise<void> {
    const tickets = this.tickets as OrderTickets;
    const placed: [Delivery, Place][] = [];
    for (const delivery of deliveries) {
      const key = this.keyOf(delivery);
      if (key !== undefined) placed.push([delivery, { key, ticket: tickets.nextTicket(key, identityOf(delivery)), foreignAhead: true }]);
    }
    try {
      const ahead = await tickets.register(
        token,
        placed.map(([, place]) => place.ticket as Ticket),
      );
      // One at a time, a ticket right behind the one before it in this fetch gets its turn when that one
      // is acknowledged: this worker can tell that alone (with more at a time, Redis must).
      const previous = new Map<string, Place>();
      placed.forEach(([, place], i) => {
        const where = ahead[i] ?? 'foreign';
        place.foreignAhead = where === 'foreign' || (where === 'next' && (this.maxInFlight > 1 || !previous.has(place.key)));
        if (where === 'next') place.follows = previous.get(place.key);
        previous.set(place.key, place);
      });
    } catch (error) {
      // Unknown whether the tickets were queued: each message asks for its turn (a missing ticket runs).
      this.logger.warn({ err: error }, 'ordering: registering fetched messages failed; they wait for their turn');
    }
    for (const [delivery, place] of placed) this.places.set(delivery, place);
  }

  /** Tickets of messages fetched and never acknowledged (dropped at close). */
  openTickets(): Ticket[] {
    return [...this.places.values()].flatMap((place) => (place.ticket ? [place.ticket] : []));
  }

  private scheduleRelease(ticket: Ticket): void {
    this.releases.push(ticket);
    if (this.releaseScheduled) return;
    this.releaseScheduled = true;
    // One script per tick for every ticket finished in it.
    setImmediate(() => void this.sendReleases());
  }

  private sendReleases(): Promise<void> {
    this.releaseScheduled = false;
    const batch = this.releases;
    this.releases = [];
    if (batch.length === 0 || !this.tickets) return this.releasing;
    const sent = this.tickets.release(batch).catch((err: unknown) => {
      // This worker's mark stays alive: others wait until these are released. Try again.
      this.logger.warn({ err, count: batch.length }, 'ordering: releasing finished tickets failed; retrying');
      if (!this.closed) setTimeout(() => batch.forEach((t) => this.scheduleRelease(t)), 500).unref();
    });
    this.releasing = Promise.all([this.releasing, sent]).then(() => undefined);
    return this.releasing;
  }

  /** Sends the tickets of messages acknowledged so far (before the worker's mark goes at close). */
  flushReleases(): Promise<void> {
    return this.sendReleases();
  }

  private schedulePoll(ms: number): void {
    if (this.closed || this.polling) return;
    if (this.pollTimer && ms >= this.pollMs) return;
    clearTimeout(this.pollTimer);
    this.pollMs = ms;
    this.pollTimer = setTimeout(() => void this.poll(), ms);
  }

  /** Asks Redis whose turn it is for every message waiting on another worker's ticket. */
  private async poll(): Promise<void> {
    this.pollTimer = undefined;
    if (this.closed || this.awaitingTurn.size === 0 || !this.tickets) return;
    this.polling = true;
    const works = [...this.awaitingTurn];
    let changed = false;
    try {
      const turns = await this.tickets.heads(works.map((w) => (this.places.get(w.delivery) as Place).ticket as Ticket));
      works.forEach((work, i) => {
        const turn = turns[i];
        if (turn === 'wait') return;
        if (turn === 'lost')
          this.logger.warn({ messageId: work.delivery.id }, "ordering: this message's place was dropped (the lease expired); it runs now");
        changed = true;
        this.awaitingTurn.delete(work);
        const place = this.places.get(work.delivery);
        const lane = place && this.lanes.get(place.key);
        if (lane) this.start(lane, work, false);
      });
    } catch (error) {
      this.logger.warn({ err: error }, 'ordering: asking Redis for turns failed; retrying');
    } finally {
      this.polling = false;
    }
    if (this.awaitingTurn.size > 0) this.schedulePoll(changed ? POLL_MIN_MS : Math.min(POLL_MAX_MS, this.pollMs * 2));
  }
}

/**
 * What names a message across workers and redeliveries: a stream entry's id; a list item's digest
 * (identical items are interchangeable). Not a list delivery's token: at-least-once, that is the item's id
 * in one consumer's processing hash, and a recovered item gets a new one.
 */
function identityOf(delivery: Delivery): string {
  if (delivery.origin.kind === 'stream') return delivery.token as string;
  return createHash('sha1').update(delivery.raw).digest('hex');
}

/** The source under an OrderingGate; fetches take turns across workers when `tickets` is set. */
class OrderedSource implements Source {
  private fetchLane: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly inner: Source,
    private readonly gate: Pick<OrderingGate<{ delivery: Delivery }>, 'register' | 'finished' | 'drain' | 'openTickets' | 'flushReleases'>,
    private readonly tickets: OrderTickets | undefined,
  ) {}

  get kind(): Source['kind'] {
    return this.inner.kind;
  }
  get name(): string {
    return this.inner.name;
  }
  get key(): string | undefined {
    return this.inner.key;
  }

  async start(): Promise<void> {
    await this.tickets?.start();
    await this.inner.start();
  }

  fetch(max: number): Promise<Delivery[]> {
    if (!this.tickets) return this.inner.fetch(max);
    // This worker's own fetches queue here, not on the Redis lock.
    const result = this.fetchLane.then(() => this.fetchInTurn(max));
    this.fetchLane = result.catch(() => undefined);
    return result;
  }

  private async fetchInTurn(max: number): Promise<Delivery[]> {
    const tickets = this.tickets as OrderTickets;
    const token = await tickets.lock();
    if (token === undefined) return [];
    let deliveries: Delivery[];
    try {
      deliveries = await this.inner.fetch(max);
    } catch (error) {
      await tickets.unlock(token).catch(() => undefined);
      throw error;
    }
    await this.gate.register(token, deliveries);
    return deliveries;
  }

  ack(delivery: Delivery): void {
    this.gate.finished(delivery);
    this.inner.ack(delivery);
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  interrupt(): void {
    this.tickets?.interrupt();
    this.inner.interrupt();
  }

  async close(unfinished: Delivery[]): Promise<void> {
    this.gate.drain();
    try {
      await this.gate.flushReleases();
      await this.tickets?.close(this.gate.openTickets());
    } finally {
      await this.inner.close(unfinished);
    }
  }

  dropped(): number {
    return this.inner.dropped();
  }
}
