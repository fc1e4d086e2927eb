import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { PipelineConfig } from '../config/index.ts';
import type { MessageOrigin } from '../handlers/types.ts';
import { keys } from '../redis/keys.ts';
import type { ConnectionPool } from '../redis/pool.ts';
import { closeClient } from '../redis/pool.ts';
import type { FetchedItem, FetchReply, PopSide, ScriptedClient } from '../redis/scripts.ts';
import { AckBatcher } from './ack-batcher.ts';
import { claimConsumerName } from './consumer-name.ts';
import type { Delivery, Source } from './source.ts';

type ListConfig = NonNullable<PipelineConfig['source']['list']>;

/** How long recovery counts of items nobody finished are kept (see LIST_RECOVER in redis/scripts.ts). */
const DELIVERY_COUNTS_KEEP_MS = 7 * 24 * 3600 * 1000;
/** Payload bytes one fetch may bring in beyond its first item (see LIST_FETCH in redis/scripts.ts). */
const FETCH_BUDGET_FLOOR = 8 * 1024 * 1024;

/**
 * A Redis list used as a FIFO queue (producers LPUSH, we take from the right; source.list.pop_from: left
 * mirrors it: producers RPUSH, we take from the left, and recovery puts items back on the left).
 *
 * at-least-once: a Lua script moves up to `batch_size` items into the hash {key}:processing:<consumer>
 * in one atomic step, each under an id from the queue's counter; a finished item is removed by its id
 * (HDEL, batched: O(1) per item however many are in flight). A heartbeat key with a TTL marks
 * this consumer alive (and holds its name: a second live process with the same name fails to start);
 * any live worker moves a dead consumer's processing list back to the queue and counts a delivery
 * for each item, so an item that keeps killing workers ends as a `max_deliveries` dead letter.
 * Items larger than message.max_bytes stay in Redis until their dead letter is written.
 * at-most-once: a script pops a batch (RPOP) and sets oversized items aside, by id, in the hash
 * {key}:oversized:<consumer> until their dead letter is written; BLMPOP of one item when empty. A crash
 * loses what was in flight, except oversized items (they stay in that hash). Oversized items this
 * consumer does not know it holds (a fetch reply lost in a reconnect, a previous run under the same
 * consumer name) go back to the queue, as do the ones it still holds at a clean stop.
 */
export class ListSource implements Source {
  readonly kind = 'list' as const;
  readonly name: string;
  readonly key: string;
  readonly consumer: string;
  /**
   * The hash (id → item) where items this consumer took wait until they are acknowledged: at-least-once,
   * every item ({key}:processing:<consumer>); at-most-once, only items larger than max_bytes, set aside by
   * the pop until their dead letter is written ({key}:oversized:<consumer>). Loaded by HGET, acknowledged
   * by HDEL, handed back by LIST_RECONCILE in both modes.
   */
  private readonly held: string;
  private readonly heartbeat: string;
  private readonly consumers: string;
  private readonly deliveries: string;
  private readonly ids: string;
  /** This process's mark in the heartbeat key: another value there is another process. */
  private readonly instance = randomBytes(8).toString('hex');
  private readonly maxBytes: number;
  private readonly fetchBudget: number;
  private readonly origin: MessageOrigin;
  /** Ids of finished items in the held hash (HDEL). */
  private readonly acks: AckBatcher<string>;
  /** At-least-once: ids of finished items whose delivery was counted (their count goes too). */
  private readonly countedAcks: AckBatcher<string>;
  private readonly blockSeconds: number;
  /** The end items are taken from (source.list.pop_from), passed to every script that takes or puts back. */
  private readonly side: PopSide;
  private stopped = false;
  private sequence = 0;
  private timers: NodeJS.Timeout[] = [];
  /** Deliveries handed out and not yet acknowledged (at-most-once: oversized ones only): what a reconcile after a reconnect keeps. */
  private readonly outstanding = new Set<Delivery>();
  private needsReconcile = false;
  /** The last fetch's result: fetches resolve in the order they were sent, so items keep queue order. */
  private previousFetch: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly config: ListConfig,
    private readonly reader: ScriptedClient,
    private readonly pool: ConnectionPool,
    private readonly logger: Logger,
    maxBytes = Number.MAX_SAFE_INTEGER,
  ) {
    this.key = config.key;
    this.maxBytes = maxBytes;
    this.fetchBudget = Math.max(FETCH_BUDGET_FLOOR, maxBytes);
    this.name = config.key;
    this.consumer = config.consumer || `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.held = this.atLeastOnce ? keys.processing(this.key, this.consumer) : keys.oversized(this.key, this.consumer);
    this.heartbeat = keys.heartbeat(this.key, this.consumer);
    this.consumers = keys.consumers(this.key);
    this.deliveries = keys.deliveries(this.key);
    this.ids = keys.ids(this.key);
    this.origin = { kind: 'list', key: this.key };
    this.blockSeconds = config.block_timeout_ms / 1000;
    this.side = config.pop_from === 'left' ? 'left' : 'right';
    let connections = 0;
    reader.on('ready', () => {
      if (++connections > 1) this.needsReconcile = true;
    });
    const ackFailed = (error: unknown, count: number) =>
      this.logger.warn({ err: error, count }, 'acknowledging list items failed; retrying');
    this.acks = new AckBatcher((ids) => this.pool.next().hdel(this.held, ...ids), ackFailed);
    this.countedAcks = new AckBatcher((ids) => this.pool.next().pythiaListAckCounted(this.held, this.deliveries, ...ids), ackFailed);
  }

  get atLeastOnce(): boolean {
    return this.config.delivery === 'at-least-once';
  }

  async start(): Promise<void> {
    if (!this.atLeastOnce) {
      // Oversized items a previous run under this consumer name set aside go back to the queue first.
      this.needsReconcile = true;
      return;
    }
    const redis = this.pool.primary;
    await claimConsumerName(
      redis,
      this.heartbeat,
      this.instance,
      this.config.heartbeat_ttl_ms,
      `source.list.consumer "${this.consumer}" of list ${this.key}`,
    );
    await redis.sadd(this.consumers, this.consumer);
    // A previous process with the same consumer name died with these in flight: they go first (counted).
    const own = await this.requeueOwn(redis, true);
    if (own > 0) this.logger.info({ count: own, consumer: this.consumer }, "requeued this consumer's unfinished items from a previous run");
    await this.recoverDeadConsumers();
    const ttl = this.config.heartbeat_ttl_ms;
    this.timers.push(
      setInterval(
        () => void this.beat().catch((err: unknown) => this.logger.warn({ err }, 'heartbeat failed')),
        Math.max(250, Math.floor(ttl / 3)),
      ),
    );
    this.timers.push(
      setInterval(
        () => void this.recoverDeadConsumers().catch((err: unknown) => this.logger.warn({ err }, 'recovery failed')),
        this.config.recovery_interval_ms,
      ),
    );
    for (const timer of this.timers) timer.unref();
  }

  private async beat(): Promise<void> {
    await this.pool.primary.set(this.heartbeat, this.instance, 'PX', this.config.heartbeat_ttl_ms);
  }

  /** Moves the processing lists of consumers whose heartbeat expired back to the queue. */
  async recoverDeadConsumers(): Promise<number> {
    const redis = this.pool.primary;
    const members = await redis.smembers(this.consumers);
    let total = 0;
    for (const member of members) {
      if (member === this.consumer) continue;
      const moved = await redis.pythiaListRecover(
        this.key,
        keys.processing(this.key, member),
        keys.heartbeat(this.key, member),
        this.consumers,
        this.deliveries,
        member,
        '0',
        '1',
        DELIVERY_COUNTS_KEEP_MS,
        this.side,
      );
      if (moved > 0) {
        total += moved;
        this.logger.warn({ count: moved, consumer: member }, 'recovered in-flight items of a dead consumer');
      }
    }
    return total;
  }

  async fetch(max: number): Promise<Delivery[]> {
    const previous = this.previousFetch;
    const result = this.fetchNow(max, previous);
    this.previousFetch = result;
    const deliveries = await result;
    await previous;
    return deliveries;
  }

  private async fetchNow(max: number, previous: Promise<unknown>): Promise<Delivery[]> {
    if (this.stopped) return [];
    try {
      if (this.needsReconcile) await this.reconcile(previous);
      if (this.atLeastOnce) {
        const reply = await this.fetchScript(max);
        if (reply.length > 0 || this.stopped) return this.wrapFetched(reply);
        // Nothing waiting: a blocking move of the queue's last item onto itself waits for one without
        // taking it (a lost reply loses nothing), and the fetch sent right behind it on the same
        // connection runs the moment it returns, with no round trip in between. Its reply carries that
        // one item's bytes: the only place an item arrives whole before its size is checked (as before).
        const waited =
          this.side === 'left'
            ? this.reader.blmoveBuffer(this.key, this.key, 'LEFT', 'LEFT', this.blockSeconds)
            : this.reader.blmoveBuffer(this.key, this.key, 'RIGHT', 'RIGHT', this.blockSeconds);
        const fetched = this.fetchScript(max);
        const [, after] = await Promise.all([waited, fetched]);
        return this.wrapFetched(after);
      }
      const items = await this.reader.pythiaListPopBuffer(this.key, this.held, this.ids, max, this.maxBytes, this.fetchBudget, this.side);
      if (items.length > 0) return this.wrap(items);
      if (this.stopped) return [];
      // Blocking, one item (its size is unknown until it arrives). The Buffer variant: call() would
      // decode the bytes as UTF-8 and re-encode them.
      const popped = await (this.side === 'left'
        ? this.reader.blmpopBuffer(this.blockSeconds, 1, [this.key], 'LEFT', 'COUNT', 1)
        : this.reader.blmpopBuffer(this.blockSeconds, 1, [this.key], 'RIGHT', 'COUNT', 1));
      if (!popped) return [];
      const item = popped[1][0] as Buffer;
      // Oversized: set aside like the pop script does, so its dead letter waits its turn without it.
      if (item.length <= this.maxBytes) return this.wrap([item]);
      return this.wrap([[item.length, await this.pool.primary.pythiaListSetAside(this.held, this.ids, item)]]);
    } catch (error) {
      if (this.stopped) return [];
      this.logger.error({ err: error }, 'fetching from the list failed; retrying');
      await new Promise((r) => setTimeout(r, 500));
      return [];
    }
  }

  /**
   * After the reader reconnected: hand back items a lost fetch reply moved into our processing hash
   * (at-most-once: oversized items it set aside in our oversized hash; also at start, for a previous run's).
   */
  private async reconcile(previous: Promise<unknown>): Promise<void> {
    this.needsReconcile = false;
    try {
      // The fetch before this one may still be on its way back, and finished items whose ack is not
      // sent yet are still in the hash: both are known, not lost.
      await previous.catch(() => undefined);
      await this.flush();
      const known = [...this.outstanding].map((d) => d.token as string);
      const moved = await this.reader.pythiaListReconcile(this.held, this.key, this.side, ...known);
      if (moved > 0)
        this.logger.warn(
          { count: moved },
          this.atLeastOnce
            ? 'requeued items whose fetch reply was lost in a reconnect'
            : 'requeued oversized items set aside by a fetch whose reply was lost',
        );
    } catch (error) {
      this.needsReconcile = true;
      throw error;
    }
  }

  /** The at-least-once fetch script: up to `max` items from the queue into this consumer's processing hash. */
  private fetchScript(max: number): Promise<FetchReply> {
    return this.reader.pythiaListFetchBuffer(
      this.key,
      this.held,
      this.deliveries,
      this.ids,
      max,
      this.maxBytes,
      this.fetchBudget,
      this.side,
    );
  }

  /** The at-least-once fetch's reply as deliveries: ids from the first element, counts from the second. */
  private wrapFetched(reply: FetchReply): Delivery[] {
    if (reply.length === 0) return [];
    const base = reply[0];
    const counts = reply[1] === 0 ? undefined : reply[1];
    return this.wrap(reply.slice(2) as FetchedItem[], counts, base);
  }

  private wrap(items: FetchedItem[], recoveries?: number[], base = 0): Delivery[] {
    const now = Date.now();
    const out = new Array<Delivery>(items.length);
    const atLeastOnce = this.atLeastOnce;
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as FetchedItem;
      const deliveryCount = recoveries ? 1 + (recoveries[i] ?? 0) : 1;
      const whole = Buffer.isBuffer(item);
      const raw = whole ? item : EMPTY;
      const delivery: Delivery = {
        id: `${this.consumer}:${++this.sequence}`,
        raw,
        fields: {},
        origin: this.origin,
        deliveryCount,
        receivedAt: now,
        // At-least-once: the item's id in the processing hash; an oversized at-most-once item's in the oversized hash.
        token: atLeastOnce ? String(base + i + 1) : whole ? raw : String(item[1]),
      };
      if (!whole) delivery.oversized = { size: item[0], load: () => this.loadOversized(delivery) };
      out[i] = delivery;
      if (atLeastOnce || !whole) this.outstanding.add(delivery);
    }
    return out;
  }

  /** The bytes of an oversized item still in Redis (the dispatcher loads one at a time, for its dead letter). */
  private async loadOversized(delivery: Delivery): Promise<Buffer | undefined> {
    return (await this.pool.primary.hgetBuffer(this.held, delivery.token as string)) ?? undefined;
  }

  ack(delivery: Delivery): void {
    // At-most-once, only an oversized item is held in Redis until acknowledged.
    if (!this.atLeastOnce && !delivery.oversized) return;
    this.outstanding.delete(delivery);
    if (delivery.deliveryCount > 1) this.countedAcks.add(delivery.token as string);
    else this.acks.add(delivery.token as string);
  }

  async flush(): Promise<void> {
    await Promise.all([this.acks.flush(), this.countedAcks.flush()]);
  }

  interrupt(): void {
    this.stopped = true;
    // A blocked BLMOVE/BLMPOP ends now. An item a fetch moved whose reply is lost stays in the
    // processing hash, which close() hands back to the queue.
    this.reader.disconnect();
  }

  /** Moves this consumer's processing hash back to the queue; after a crash (not a clean stop) each item's delivery is counted. */
  private requeueOwn(redis: typeof this.pool.primary, countDeliveries: boolean): Promise<number> {
    return redis.pythiaListRecover(
      this.key,
      this.held,
      this.heartbeat,
      this.consumers,
      this.deliveries,
      this.consumer,
      '1',
      countDeliveries ? '1' : '0',
      DELIVERY_COUNTS_KEEP_MS,
      this.side,
    );
  }

  async close(unfinished: Delivery[]): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await this.flush();
    if (this.atLeastOnce) {
      const redis = this.pool.primary;
      const requeued = await this.requeueOwn(redis, false);
      if (requeued > 0) this.logger.warn({ count: requeued, unfinished: unfinished.length }, 'requeued unfinished items at shutdown');
      await redis.del(this.heartbeat);
      await redis.srem(this.consumers, this.consumer);
    } else {
      // Oversized items whose dead letter was not written: back to the queue, for the next consumer to dead-letter.
      const requeued = await this.pool.primary.pythiaListReconcile(this.held, this.key, this.side);
      if (requeued > 0) this.logger.warn({ count: requeued }, 'requeued oversized items not yet dead-lettered at shutdown');
    }
    await closeClient(this.reader);
  }

  dropped(): number {
    return 0;
  }
}

const EMPTY = Buffer.alloc(0);
