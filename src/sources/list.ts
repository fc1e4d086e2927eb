import { hostname } from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { PipelineConfig } from '../config/index.ts';
import type { MessageOrigin } from '../handlers/types.ts';
import { keys } from '../redis/keys.ts';
import type { ConnectionPool } from '../redis/pool.ts';
import { closeClient } from '../redis/pool.ts';
import type { FetchedItem, PopSide, ScriptedClient } from '../redis/scripts.ts';
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
 * at-least-once: a Lua script moves up to `batch_size` items into {key}:processing:<consumer> in one
 * atomic step; finished items are removed from it (LREM, batched). A heartbeat key with a TTL marks
 * this consumer alive (and holds its name: a second live process with the same name fails to start);
 * any live worker moves a dead consumer's processing list back to the queue and counts a delivery
 * for each item, so an item that keeps killing workers ends as a `max_deliveries` dead letter.
 * Items larger than message.max_bytes stay in Redis until their dead letter is written.
 * at-most-once: a script pops a batch (RPOP) and sets oversized items aside in {key}:oversized until
 * their dead letter is written; BLMPOP of one item when empty; a crash loses what was in flight
 * (except oversized items: they stay in {key}:oversized).
 */
export class ListSource implements Source {
  readonly kind = 'list' as const;
  readonly name: string;
  readonly key: string;
  readonly consumer: string;
  private readonly processing: string;
  private readonly heartbeat: string;
  private readonly consumers: string;
  private readonly deliveries: string;
  /** At-most-once: where a pop sets aside items larger than max_bytes until their dead letter is written. */
  private readonly oversizedList: string;
  /** This process's mark in the heartbeat key: another value there is another process. */
  private readonly instance = randomBytes(8).toString('hex');
  private readonly maxBytes: number;
  private readonly fetchBudget: number;
  /** Payloads of oversized deliveries, loaded for their dead letter and needed to acknowledge them. */
  private readonly loaded = new WeakMap<Delivery, Buffer>();
  private readonly origin: MessageOrigin;
  private readonly acks: AckBatcher<Buffer>;
  /** At-most-once: removes dead-lettered oversized items from the oversized list. */
  private readonly oversizedAcks: AckBatcher<Buffer>;
  private readonly blockSeconds: number;
  /** The end items are taken from (source.list.pop_from), passed to every script that takes or puts back. */
  private readonly side: PopSide;
  private stopped = false;
  private sequence = 0;
  private timers: NodeJS.Timeout[] = [];
  /** Deliveries handed out and not yet acknowledged: what a reconcile after a reconnect keeps. */
  private readonly outstanding = new Set<Delivery>();
  private needsReconcile = false;
  /** Whether the last fetch saw recovery counts (then a blocking fetch asks for its item's count). */
  private countsExist = false;
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
    this.processing = keys.processing(this.key, this.consumer);
    this.heartbeat = keys.heartbeat(this.key, this.consumer);
    this.consumers = keys.consumers(this.key);
    this.deliveries = keys.deliveries(this.key);
    this.oversizedList = keys.oversized(this.key);
    this.origin = { kind: 'list', key: this.key };
    this.blockSeconds = config.block_timeout_ms / 1000;
    this.side = config.pop_from === 'left' ? 'left' : 'right';
    let connections = 0;
    reader.on('ready', () => {
      if (++connections > 1) this.needsReconcile = true;
    });
    this.acks = new AckBatcher(
      (payloads) =>
        this.pool
          .next()
          .pythiaListAck(
            this.processing,
            this.deliveries,
            payloads.length === 1 ? (payloads[0] as Buffer) : Buffer.concat(payloads),
            payloads.map((p) => p.length).join(','),
          ),
      (error, count) => this.logger.warn({ err: error, count }, 'acknowledging list items failed; retrying'),
    );
    this.oversizedAcks = new AckBatcher(
      (payloads) =>
        this.pool
          .next()
          .pythiaListAck(this.oversizedList, this.deliveries, Buffer.concat(payloads), payloads.map((p) => p.length).join(',')),
      (error, count) => this.logger.warn({ err: error, count }, 'removing dead-lettered oversized items failed; retrying'),
    );
  }

  get atLeastOnce(): boolean {
    return this.config.delivery === 'at-least-once';
  }

  async start(): Promise<void> {
    if (!this.atLeastOnce) return;
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
    const result = this.fetchNow(max);
    this.previousFetch = result;
    const deliveries = await result;
    await previous;
    return deliveries;
  }

  private async fetchNow(max: number): Promise<Delivery[]> {
    if (this.stopped) return [];
    try {
      if (this.atLeastOnce) {
        if (this.needsReconcile) await this.reconcile();
        const reply = await this.reader.pythiaListFetchBuffer(
          this.key,
          this.processing,
          this.deliveries,
          max,
          this.maxBytes,
          this.fetchBudget,
          this.side,
        );
        const last = reply[reply.length - 1];
        // The counts are all numbers; an oversized item's marker holds its digest.
        this.countsExist = Array.isArray(last) && (last as unknown[]).every((n) => typeof n === 'number');
        const counts = this.countsExist ? (reply.pop() as number[]) : undefined;
        if (reply.length > 0) return this.wrap(reply as FetchedItem[], counts);
        if (this.stopped) return [];
        // Blocking, one item: the only path where an item comes whole before its size is known.
        const one = await (this.side === 'left'
          ? this.reader.blmoveBuffer(this.key, this.processing, 'LEFT', 'LEFT', this.blockSeconds)
          : this.reader.blmoveBuffer(this.key, this.processing, 'RIGHT', 'LEFT', this.blockSeconds));
        if (!one) return [];
        return this.wrap([this.demote(one)], this.countsExist ? [await this.recoveries(one)] : undefined);
      }
      const items = await this.reader.pythiaListPopBuffer(this.key, this.oversizedList, max, this.maxBytes, this.fetchBudget, this.side);
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
      if (item.length > this.maxBytes) await this.pool.primary.lpush(this.oversizedList, item);
      return this.wrap([this.demote(item)]);
    } catch (error) {
      if (this.stopped) return [];
      this.logger.error({ err: error }, 'fetching from the list failed; retrying');
      await new Promise((r) => setTimeout(r, 500));
      return [];
    }
  }

  /** An item a blocking fetch brought whole: a marker if it is oversized, so it is not held meanwhile. */
  private demote(item: Buffer): FetchedItem {
    if (item.length <= this.maxBytes) return item;
    return [item.length, Buffer.from(createHash('sha1').update(item).digest('hex'))];
  }

  /** After the reader reconnected: hand back items a lost fetch reply moved into our processing list. */
  private async reconcile(): Promise<void> {
    this.needsReconcile = false;
    const known = [...this.outstanding].filter((d) => !d.oversized).map((d) => d.token);
    const moved = await this.reader.pythiaListReconcile(this.processing, this.key, this.maxBytes, this.side, ...known);
    if (moved > 0) this.logger.warn({ count: moved }, 'requeued items whose fetch reply was lost in a reconnect');
  }

  /** Times an item was recovered from crashed consumers (only a blocking fetch asks separately). */
  private async recoveries(item: Buffer): Promise<number> {
    const count = await this.pool.next().hget(this.deliveries, createHash('sha1').update(item).digest('hex'));
    return count === null ? 0 : Number(count);
  }

  private wrap(items: FetchedItem[], recoveries?: number[]): Delivery[] {
    const now = Date.now();
    const out = new Array<Delivery>(items.length);
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as FetchedItem;
      const deliveryCount = recoveries ? 1 + (recoveries[i] ?? 0) : 1;
      const raw = Buffer.isBuffer(item) ? item : EMPTY;
      const delivery: Delivery = {
        id: `${this.consumer}:${++this.sequence}`,
        raw,
        fields: {},
        origin: this.origin,
        deliveryCount,
        receivedAt: now,
        token: raw,
      };
      if (!Buffer.isBuffer(item)) delivery.oversized = { size: item[0], load: () => this.loadOversized(delivery, item[1]) };
      out[i] = delivery;
      if (this.atLeastOnce) this.outstanding.add(delivery);
    }
    return out;
  }

  /** The bytes of an oversized item still in our processing list (the dispatcher loads one at a time). */
  private async loadOversized(delivery: Delivery, sha1: Buffer): Promise<Buffer | undefined> {
    const where = this.atLeastOnce ? this.processing : this.oversizedList;
    const payload = await this.pool.primary.pythiaListOversizedBuffer(where, this.maxBytes, sha1);
    if (!payload) return undefined;
    this.loaded.set(delivery, payload);
    return payload;
  }

  ack(delivery: Delivery): void {
    if (!this.atLeastOnce) {
      const payload = delivery.oversized && this.loaded.get(delivery);
      if (payload) this.oversizedAcks.add(payload);
      return;
    }
    this.outstanding.delete(delivery);
    const payload = delivery.oversized ? this.loaded.get(delivery) : (delivery.token as Buffer);
    if (payload) this.acks.add(payload);
  }

  async flush(): Promise<void> {
    await Promise.all([this.acks.flush(), this.oversizedAcks.flush()]);
  }

  interrupt(): void {
    this.stopped = true;
    // A blocked BLMOVE/BLMPOP ends now. An item it moved whose reply is lost stays in the
    // processing list, which close() hands back to the queue.
    this.reader.disconnect();
  }

  /** Moves this consumer's processing list back to the queue; after a crash (not a clean stop) each item's delivery is counted. */
  private requeueOwn(redis: typeof this.pool.primary, countDeliveries: boolean): Promise<number> {
    return redis.pythiaListRecover(
      this.key,
      this.processing,
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
    }
    await closeClient(this.reader);
  }

  dropped(): number {
    return 0;
  }
}

const EMPTY = Buffer.alloc(0);
