import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { PipelineConfig } from '../config/index.ts';
import type { MessageOrigin } from '../handlers/types.ts';
import { keys } from '../redis/keys.ts';
import type { ConnectionPool } from '../redis/pool.ts';
import { closeClient } from '../redis/pool.ts';
import type { ScriptedClient } from '../redis/scripts.ts';
import { AckBatcher } from './ack-batcher.ts';
import type { Delivery, Source } from './source.ts';

type ListConfig = NonNullable<PipelineConfig['source']['list']>;

/**
 * A Redis list used as a FIFO queue (producers LPUSH, we take from the right).
 *
 * at-least-once: a Lua script moves up to `batch_size` items into {key}:processing:<consumer> in one
 * atomic step; finished items are removed from it (LREM, batched). A heartbeat key with a TTL marks
 * this consumer alive; any live worker moves a dead consumer's processing list back to the queue.
 * at-most-once: batched RPOP, BLMPOP when empty; a crash loses what was in flight.
 */
export class ListSource implements Source {
  readonly kind = 'list' as const;
  readonly name: string;
  readonly key: string;
  readonly consumer: string;
  private readonly processing: string;
  private readonly heartbeat: string;
  private readonly consumers: string;
  private readonly origin: MessageOrigin;
  private readonly acks: AckBatcher<Buffer>;
  private readonly blockSeconds: number;
  private stopped = false;
  private sequence = 0;
  private timers: NodeJS.Timeout[] = [];
  /** Deliveries handed out and not yet acknowledged: what a reconcile after a reconnect keeps. */
  private readonly outstanding = new Set<Delivery>();
  private needsReconcile = false;

  constructor(
    private readonly config: ListConfig,
    private readonly reader: ScriptedClient,
    private readonly pool: ConnectionPool,
    private readonly logger: Logger,
  ) {
    this.key = config.key;
    this.name = config.key;
    this.consumer = config.consumer || `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.processing = keys.processing(this.key, this.consumer);
    this.heartbeat = keys.heartbeat(this.key, this.consumer);
    this.consumers = keys.consumers(this.key);
    this.origin = { kind: 'list', key: this.key };
    this.blockSeconds = config.block_timeout_ms / 1000;
    let connections = 0;
    reader.on('ready', () => {
      if (++connections > 1) this.needsReconcile = true;
    });
    this.acks = new AckBatcher(
      (payloads) => this.pool.next().pythiaListAck(this.processing, Buffer.concat(payloads), payloads.map((p) => p.length).join(',')),
      (error, count) => this.logger.warn({ err: error, count }, 'acknowledging list items failed; retrying'),
    );
  }

  get atLeastOnce(): boolean {
    return this.config.delivery === 'at-least-once';
  }

  async start(): Promise<void> {
    if (!this.atLeastOnce) return;
    const redis = this.pool.primary;
    await this.beat();
    await redis.sadd(this.consumers, this.consumer);
    // A previous process with the same consumer name died with these in flight: they go first.
    const own = await redis.pythiaListRecover(this.key, this.processing, this.heartbeat, this.consumers, this.consumer, '1');
    if (own > 0) this.logger.info({ count: own, consumer: this.consumer }, 'requeued this consumer\'s unfinished items from a previous run');
    await this.recoverDeadConsumers();
    const ttl = this.config.heartbeat_ttl_ms;
    this.timers.push(setInterval(() => void this.beat().catch((err: unknown) => this.logger.warn({ err }, 'heartbeat failed')), Math.max(250, Math.floor(ttl / 3))));
    this.timers.push(setInterval(() => void this.recoverDeadConsumers().catch((err: unknown) => this.logger.warn({ err }, 'recovery failed')), this.config.recovery_interval_ms));
    for (const timer of this.timers) timer.unref();
  }

  private async beat(): Promise<void> {
    await this.pool.primary.set(this.heartbeat, String(process.pid), 'PX', this.config.heartbeat_ttl_ms);
  }

  /** Moves the processing lists of consumers whose heartbeat expired back to the queue. */
  async recoverDeadConsumers(): Promise<number> {
    const redis = this.pool.primary;
    const members = await redis.smembers(this.consumers);
    let total = 0;
    for (const member of members) {
      if (member === this.consumer) continue;
      const moved = await redis.pythiaListRecover(this.key, keys.processing(this.key, member), keys.heartbeat(this.key, member), this.consumers, member, '0');
      if (moved > 0) {
        total += moved;
        this.logger.warn({ count: moved, consumer: member }, 'recovered in-flight items of a dead consumer');
      }
    }
    return total;
  }

  async fetch(max: number): Promise<Delivery[]> {
    if (this.stopped) return [];
    try {
      if (this.atLeastOnce) {
        if (this.needsReconcile) await this.reconcile();
        const items = await this.reader.pythiaListFetchBuffer(this.key, this.processing, max);
        if (items.length > 0) return this.wrap(items);
        if (this.stopped) return [];
        const one = await this.reader.blmoveBuffer(this.key, this.processing, 'RIGHT', 'LEFT', this.blockSeconds);
        return one ? this.wrap([one]) : [];
      }
      const items = (await this.reader.rpopBuffer(this.key, max)) as Buffer[] | null;
      if (items && items.length > 0) return this.wrap(items);
      if (this.stopped) return [];
      const popped = (await this.reader.call('BLMPOP', String(this.blockSeconds), '1', this.key, 'RIGHT', 'COUNT', String(max))) as [string, string[]] | null;
      return popped ? this.wrap(popped[1].map((s) => Buffer.from(s))) : [];
    } catch (error) {
      if (this.stopped) return [];
      this.logger.error({ err: error }, 'fetching from the list failed; retrying');
      await new Promise((r) => setTimeout(r, 500));
      return [];
    }
  }

  /** After the reader reconnected: hand back items a lost fetch reply moved into our processing list. */
  private async reconcile(): Promise<void> {
    this.needsReconcile = false;
    const known = [...this.outstanding].map((d) => d.token);
    const moved = await this.reader.pythiaListReconcile(this.processing, this.key, ...known);
    if (moved > 0) this.logger.warn({ count: moved }, 'requeued items whose fetch reply was lost in a reconnect');
  }

  private wrap(items: Buffer[]): Delivery[] {
    const now = Date.now();
    const out = new Array<Delivery>(items.length);
    for (let i = 0; i < items.length; i++) {
      const raw = items[i] as Buffer;
      const delivery: Delivery = { id: `${this.consumer}:${++this.sequence}`, raw, fields: {}, origin: this.origin, deliveryCount: 1, receivedAt: now, token: raw };
      out[i] = delivery;
      if (this.atLeastOnce) this.outstanding.add(delivery);
    }
    return out;
  }

  ack(delivery: Delivery): void {
    if (this.atLeastOnce) {
      this.outstanding.delete(delivery);
      this.acks.add(delivery.token as Buffer);
    }
  }

  flush(): Promise<void> {
    return this.acks.flush();
  }

  interrupt(): void {
    this.stopped = true;
    // A blocked BLMOVE/BLMPOP ends now. An item it moved whose reply is lost stays in the
    // processing list, which close() hands back to the queue.
    this.reader.disconnect();
  }

  async close(unfinished: Delivery[]): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await this.flush();
    if (this.atLeastOnce) {
      const redis = this.pool.primary;
      const requeued = await redis.pythiaListRecover(this.key, this.processing, this.heartbeat, this.consumers, this.consumer, '1');
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
