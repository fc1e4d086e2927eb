import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { PipelineConfig } from '../config/index.ts';
import type { MessageOrigin } from '../handlers/types.ts';
import { keys } from '../redis/keys.ts';
import type { ConnectionPool } from '../redis/pool.ts';
import { closeClient } from '../redis/pool.ts';
import type { ScriptedClient } from '../redis/scripts.ts';
import { HEADER_FIELD_PREFIX } from '../redis/envelope.ts';
import { AckBatcher } from './ack-batcher.ts';
import { claimConsumerName, ConsumerNameInUseError } from './consumer-name.ts';
import type { Delivery, Source } from './source.ts';
import { oldestNeededId, record } from './stream-trim.ts';

type StreamConfig = NonNullable<PipelineConfig['source']['stream']>;
type RawEntry = [Buffer, Buffer[]];

/** Payload bytes one fetch may bring in beyond its first entry (see STREAM_READ in redis/scripts.ts). */
const FETCH_BUDGET_FLOOR = 8 * 1024 * 1024;

/**
 * A stream read through a consumer group. On start it re-reads this consumer's own pending entries;
 * then XREADGROUP ... >. Every claim_interval_ms it claims entries idle longer than claim_idle_ms
 * from other consumers, and at once those of crashed consumers (their heartbeat key expired), which
 * it then removes from the group. Acks are batched XACKs; trimming (max_stream_length /
 * trim_strategy) never goes past the oldest entry some consumer group still needs.
 */
export class StreamSource implements Source {
  readonly kind = 'stream' as const;
  readonly name: string;
  readonly key: string;
  readonly group: string;
  private consumerName: string;
  /** This process's mark in the heartbeat key: another value there is another process. */
  private readonly instance = randomBytes(8).toString('hex');
  private readonly origin: MessageOrigin;
  private readonly acks: AckBatcher<string>;
  /** Entries handed to us by recovery or claiming, waiting for capacity. */
  private ready: Delivery[] = [];
  private stopped = false;
  private timers: NodeJS.Timeout[] = [];
  private claiming = false;
  private lastTrim = 0;
  /** Entry ids handed out and not yet acknowledged. */
  private readonly outstanding = new Set<string>();
  /** Entries read (pending for us) but not sent, beyond a fetch's byte budget: id and total size. */
  private deferred: [id: string, size: number][] = [];
  private readonly maxBytes: number;
  private readonly fetchBudget: number;

  constructor(
    private readonly config: StreamConfig,
    private readonly reader: ScriptedClient,
    private readonly pool: ConnectionPool,
    private readonly logger: Logger,
    maxBytes = Number.MAX_SAFE_INTEGER,
  ) {
    this.maxBytes = maxBytes;
    this.fetchBudget = Math.max(FETCH_BUDGET_FLOOR, maxBytes);
    this.key = config.key;
    this.name = config.key;
    this.group = config.consumer_group;
    this.consumerName = config.consumer || hostname();
    this.origin = { kind: 'stream', key: this.key };
    this.acks = new AckBatcher(
      async (ids) => {
        await this.pool.next().xack(this.key, this.group, ...ids);
        this.maybeTrim();
      },
      (error, count) => this.logger.warn({ err: error, count }, 'XACK failed; retrying'),
    );
  }

  get consumer(): string {
    return this.consumerName;
  }

  private get heartbeat(): string {
    return keys.streamHeartbeat(this.key, this.group, this.consumerName);
  }

  async start(): Promise<void> {
    await this.createGroup();
    await this.claimName();
    await this.recoverOwnPending();
    const every = (ms: number, task: () => Promise<void>) => {
      const timer = setInterval(() => void task(), ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.config.claim_interval_ms, async () => {
      await this.claimIdle();
      await this.reapDeadConsumers();
      this.maybeTrim(); // also when nothing is acknowledged: entries read meanwhile by other groups
    });
    every(this.keepEveryMs, () => this.keepOutstanding());
    every(Math.max(250, Math.floor(this.config.heartbeat_ttl_ms / 3)), () => this.beat());
  }

  private async createGroup(): Promise<void> {
    try {
      await this.pool.primary.xgroup('CREATE', this.key, this.group, this.config.start_id, 'MKSTREAM');
      this.logger.info({ group: this.group, start: this.config.start_id }, 'created consumer group');
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    }
  }

  /**
   * One live process per consumer name (two would each treat the other's pending entries as their
   * own). A configured name in use fails the pipeline; the default (the hostname) falls back to a
   * unique name, so several processes on one host just work.
   */
  private async claimName(): Promise<void> {
    const what = `source.stream.consumer "${this.consumerName}" of group ${this.group} on stream ${this.key}`;
    try {
      await claimConsumerName(this.pool.primary, this.heartbeat, this.instance, this.config.heartbeat_ttl_ms, what);
    } catch (error) {
      if (!(error instanceof ConsumerNameInUseError) || this.config.consumer) throw error;
      const taken = this.consumerName;
      this.consumerName = `${taken}-${process.pid}-${randomBytes(3).toString('hex')}`;
      this.logger.info(
        { taken, consumer: this.consumerName },
        'the default consumer name is in use by another live process; using a unique one',
      );
      await claimConsumerName(this.pool.primary, this.heartbeat, this.instance, this.config.heartbeat_ttl_ms, what);
    }
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.pool.primary.set(this.heartbeat, this.instance, 'PX', this.config.heartbeat_ttl_ms);
    } catch (error) {
      this.logger.warn({ err: error }, 'heartbeat failed');
    }
  }

  /**
   * Consumers without a heartbeat, idle longer than heartbeat_ttl_ms, crashed: their pending entries
   * are claimed now (one page per round, only with room), not after claim_idle_ms; once they have none
   * they are removed from the group, so the group does not keep one consumer per pod name ever run.
   */
  async reapDeadConsumers(): Promise<void> {
    if (this.stopped || this.claiming) return;
    const redis = this.pool.primary;
    const ttl = this.config.heartbeat_ttl_ms;
    try {
      const consumers = ((await redis.xinfo('CONSUMERS', this.key, this.group)) as unknown[][]).map(record);
      for (const consumer of consumers) {
        const name = String(consumer.name);
        if (name === this.consumerName || Number(consumer.idle) < ttl) continue;
        if ((await redis.exists(keys.streamHeartbeat(this.key, this.group, name))) === 1) continue;
        if (Number(consumer.pending) === 0) {
          await redis.xgroup('DELCONSUMER', this.key, this.group, name);
          this.logger.info({ consumer: name }, 'removed a crashed consumer with nothing pending from the group');
          continue;
        }
        if (this.ready.length >= this.config.batch_size) continue;
        const pending = (await redis.xpending(this.key, this.group, '-', '+', this.config.batch_size, name)) as [
          string,
          string,
          number,
          number,
        ][];
        // Its entries have been idle at least since its last heartbeat (ttl - ttl/3 ago): half the ttl
        // lets only the first of several live consumers claim each one.
        this.claiming = true;
        const claimed = await this.claim(pending, Math.floor(ttl / 2)).finally(() => (this.claiming = false));
        if (claimed > 0) this.logger.warn({ count: claimed, consumer: name }, 'claimed the pending entries of a crashed consumer');
      }
    } catch (error) {
      if (!this.stopped) this.logger.warn({ err: error }, 'looking for crashed consumers failed');
    }
  }

  private get keepEveryMs(): number {
    return Math.max(50, Math.floor(this.config.claim_idle_ms / 4));
  }

  /**
   * Entries still in our hands (being processed, retried, or waiting in `ready`) get their idle time
   * reset with XCLAIM ... JUSTID (which does not count a delivery), so that another live replica
   * never claims an entry for taking longer than claim_idle_ms. Only entries idle for a refresh
   * period are touched: one another consumer has just claimed is left alone.
   */
  private async keepOutstanding(): Promise<void> {
    if (this.stopped || this.outstanding.size === 0) return;
    const ids = [...this.outstanding];
    try {
      for (let i = 0; i < ids.length; i += 1000) {
        await this.pool.primary.call(
          'XCLAIM',
          this.key,
          this.group,
          this.consumer,
          String(this.keepEveryMs),
          ...ids.slice(i, i + 1000),
          'JUSTID',
        );
      }
    } catch (error) {
      if (!this.stopped) this.logger.warn({ err: error }, 'refreshing the idle time of in-flight entries failed');
    }
  }

  /** This consumer's entries still pending from a previous run: re-delivered first. */
  private async recoverOwnPending(): Promise<void> {
    let start = '-';
    for (;;) {
      const pending = (await this.pool.primary.xpending(this.key, this.group, start, '+', 1000, this.consumer)) as [
        string,
        string,
        number,
        number,
      ][];
      if (pending.length === 0) break;
      await this.claim(pending, 0);
      const last = pending[pending.length - 1] as [string, string, number, number];
      start = '(' + last[0];
      if (pending.length < 1000) break;
    }
    if (this.ready.length > 0)
      this.logger.info({ count: this.ready.length }, "redelivering this consumer's pending entries from a previous run");
  }

  /** Claims entries idle for claim_idle_ms from other consumers (one page per interval, only with room). */
  async claimIdle(): Promise<void> {
    if (this.claiming || this.stopped || this.ready.length >= this.config.batch_size) return;
    this.claiming = true;
    try {
      const pending = (await this.pool.primary.call(
        'XPENDING',
        this.key,
        this.group,
        'IDLE',
        String(this.config.claim_idle_ms),
        '-',
        '+',
        String(this.config.batch_size),
      )) as [string, string, number, number][];
      // Our own idle entries count too when we are not working on them: an XREADGROUP whose reply
      // was lost in a reconnect left them pending under our name.
      const others = pending.filter((p) => p[1] !== this.consumer || !this.outstanding.has(p[0]));
      if (others.length > 0) {
        const claimed = await this.claim(others, this.config.claim_idle_ms);
        if (claimed > 0) this.logger.warn({ count: claimed }, 'claimed idle entries from other consumers');
      }
    } catch (error) {
      if (!this.stopped) this.logger.warn({ err: error }, 'claiming idle entries failed');
    } finally {
      this.claiming = false;
    }
  }

  private async claim(pending: [string, string, number, number][], minIdle: number): Promise<number> {
    const counts = new Map(pending.map((p) => [p[0], Number(p[3])]));
    const ids = pending.map((p) => p[0]);
    // xclaimBuffer exists at run time but not in ioredis' typings; callBuffer() is broken with auto-pipelining.
    const redis = this.pool.primary as unknown as { xclaimBuffer(...args: (string | number)[]): Promise<(RawEntry | null)[]> };
    const entries = await redis.xclaimBuffer(this.key, this.group, this.consumer, minIdle, ...ids);
    const now = Date.now();
    const found = new Set<string>();
    for (const entry of entries) {
      if (!entry) continue;
      const id = entry[0].toString();
      found.add(id);
      // XCLAIM counted this delivery too.
      this.ready.push(this.toDelivery(entry, (counts.get(id) ?? 0) + 1, now));
    }
    // Entries deleted from the stream (trimmed) can never be processed: drop them from the group.
    const gone = minIdle === 0 ? ids.filter((id) => !found.has(id)) : [];
    if (gone.length > 0) await this.pool.primary.xack(this.key, this.group, ...gone);
    return found.size;
  }

  private toDelivery(entry: RawEntry, deliveryCount: number, receivedAt: number): Delivery {
    const id = entry[0].toString();
    const list = entry[1];
    const fields: Record<string, string> = {};
    let body: Buffer | undefined;
    for (let i = 0; i + 1 < list.length; i += 2) {
      const name = (list[i] as Buffer).toString();
      const value = list[i + 1] as Buffer;
      fields[name] = value.toString();
      if (name === 'body') body = value;
    }
    this.outstanding.add(id);
    return { id, raw: body ?? fieldsAsBody(fields), fields, fieldPairs: list, origin: this.origin, deliveryCount, receivedAt, token: id };
  }

  async fetch(max: number): Promise<Delivery[]> {
    if (this.stopped) return [];
    if (this.ready.length > 0) return this.ready.splice(0, max);
    try {
      if (this.deferred.length > 0) return await this.readDeferred(max);
      const entries = await this.reader.pythiaStreamReadBuffer(this.key, this.group, this.consumer, max, this.maxBytes, this.fetchBudget);
      const now = Date.now();
      if (entries.length > 0) {
        const out: Delivery[] = [];
        for (const entry of entries) {
          const detail = entry[1];
          if (Array.isArray(detail)) out.push(this.toDelivery(entry as RawEntry, 1, now));
          else if (entry[2] === 1) out.push(this.oversized(entry[0].toString(), detail, 1, now));
          else this.deferred.push([entry[0].toString(), detail]);
        }
        for (const [id] of this.deferred) this.outstanding.add(id);
        return out;
      }
      if (this.stopped) return [];
      // Blocking, one entry: its size is unknown until it arrives (a script cannot block).
      const reply = (await this.reader.xreadgroupBuffer(
        'GROUP',
        this.group,
        this.consumer,
        'COUNT',
        1,
        'BLOCK',
        this.config.block_timeout_ms,
        'STREAMS',
        this.key,
        '>',
      )) as [Buffer, RawEntry[]][] | null;
      if (!reply || reply.length === 0) return [];
      // An oversized entry is dropped for a marker: its dead letter reloads it when its turn comes.
      return (reply[0] as [Buffer, RawEntry[]])[1].map((entry) => {
        const size = oversizedSize(entry[1], this.maxBytes);
        return size === undefined ? this.toDelivery(entry, 1, now) : this.oversized(entry[0].toString(), size, 1, now);
      });
    } catch (error) {
      if (this.stopped) return [];
      const message = String((error as Error).message);
      if (message.includes('NOGROUP')) {
        // The stream or group was deleted under us: create the group again rather than stop consuming
        // (only the group: start() would add another set of timers each time).
        this.logger.warn('consumer group missing; creating it again');
        await this.createGroup().catch(() => new Promise((r) => setTimeout(r, 500)));
      } else {
        this.logger.error({ err: error }, 'XREADGROUP failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
      return [];
    }
  }

  /** An entry left pending in Redis: loaded once (XRANGE id id), only for its dead letter. */
  private oversized(id: string, size: number, deliveryCount: number, receivedAt: number): Delivery {
    this.outstanding.add(id);
    const delivery: Delivery = { id, raw: EMPTY, fields: {}, origin: this.origin, deliveryCount, receivedAt, token: id };
    delivery.oversized = {
      size,
      load: async () => {
        const found = (await this.pool.primary.xrangeBuffer(this.key, id, id)) as RawEntry[];
        const entry = found[0];
        if (!entry) return undefined;
        const loaded = this.toDelivery(entry, deliveryCount, receivedAt);
        delivery.fields = loaded.fields;
        delivery.fieldPairs = loaded.fieldPairs;
        return loaded.raw;
      },
    };
    return delivery;
  }

  /** Entries beyond an earlier fetch's byte budget, already pending for us: read by id, within the budget. */
  private async readDeferred(max: number): Promise<Delivery[]> {
    let used = 0;
    let n = 0;
    while (n < this.deferred.length && n < max) {
      used += (this.deferred[n] as [string, number])[1];
      if (used > this.fetchBudget && n > 0) break;
      n++;
    }
    const batch = this.deferred.splice(0, n);
    const pipeline = this.pool.primary.pipeline();
    for (const [id] of batch) pipeline.xrangeBuffer(this.key, id, id);
    const replies = (await pipeline.exec()) ?? [];
    const now = Date.now();
    const out: Delivery[] = [];
    const gone: string[] = [];
    batch.forEach(([id], i) => {
      const [error, found] = replies[i] ?? [new Error('no reply')];
      const entry = (found as RawEntry[] | undefined)?.[0];
      if (error) this.deferred.push([id, (batch[i] as [string, number])[1]]);
      else if (entry) out.push(this.toDelivery(entry, 1, now));
      else gone.push(id);
    });
    // Trimmed meanwhile: it can never be processed, drop it from the group.
    if (gone.length > 0) {
      for (const id of gone) this.outstanding.delete(id);
      await this.pool.primary.xack(this.key, this.group, ...gone);
    }
    return out;
  }

  ack(delivery: Delivery): void {
    this.outstanding.delete(delivery.token as string);
    this.acks.add(delivery.token as string);
  }

  flush(): Promise<void> {
    return this.acks.flush();
  }

  private maybeTrim(): void {
    if (this.config.max_stream_length === 0 && this.config.trim_strategy === 'maxlen') return;
    const now = Date.now();
    if (now - this.lastTrim < 1000) return;
    this.lastTrim = now;
    void this.trim().catch((error: unknown) => this.logger.warn({ err: error }, 'trimming the stream failed'));
  }

  /**
   * Never past what a consumer group still needs (a plain MAXLEN removed unread entries under a slow
   * handler): maxlen only decides when to trim, the bound is always the oldest needed id.
   */
  private async trim(): Promise<void> {
    const redis = this.pool.primary;
    if (this.config.trim_strategy === 'maxlen' && (await redis.xlen(this.key)) <= this.config.max_stream_length) return;
    const bound = await oldestNeededId(redis, this.key);
    if (bound !== undefined) await redis.xtrim(this.key, 'MINID', '~', bound);
  }

  interrupt(): void {
    this.stopped = true;
    this.reader.disconnect();
  }

  async close(_unfinished: Delivery[]): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await this.flush();
    // Unfinished entries stay pending in the group: this consumer re-reads them on its next start,
    // and others claim them once our heartbeat is gone. With nothing pending we leave the group.
    this.ready = [];
    this.deferred = [];
    try {
      const redis = this.pool.primary;
      if ((await redis.get(this.heartbeat)) === this.instance) await redis.del(this.heartbeat);
      const pending = (await redis.xpending(this.key, this.group, '-', '+', 1, this.consumerName)) as unknown[];
      if (pending.length === 0) await redis.xgroup('DELCONSUMER', this.key, this.group, this.consumerName);
    } catch (error) {
      this.logger.warn({ err: error }, 'releasing the consumer name failed; it expires with its heartbeat');
    }
    await closeClient(this.reader);
  }

  dropped(): number {
    return 0;
  }
}

/** An entry without a `body` field: its payload is the JSON of its fields, header fields (h:<name>) left out. */
function fieldsAsBody(fields: Record<string, string>): Buffer {
  const own: Record<string, string> = {};
  for (const name in fields) if (!name.startsWith(HEADER_FIELD_PREFIX)) own[name] = fields[name] as string;
  return Buffer.from(JSON.stringify(own));
}

const EMPTY = Buffer.alloc(0);

/** The entry's total size if its body (the whole entry without a body field) exceeds maxBytes, as STREAM_READ decides. */
function oversizedSize(fields: Buffer[], maxBytes: number): number | undefined {
  let total = 0;
  let body: number | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i] as Buffer;
    const value = fields[i + 1] as Buffer;
    total += name.length + value.length;
    if (body === undefined && name.length === 4 && name.toString() === 'body') body = value.length;
  }
  return (body ?? total) > maxBytes ? total : undefined;
}
