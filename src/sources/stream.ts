import type { Logger } from 'pino';
import type { PipelineConfig } from '../config/index.ts';
import type { MessageOrigin } from '../handlers/types.ts';
import type { ConnectionPool } from '../redis/pool.ts';
import { closeClient } from '../redis/pool.ts';
import type { ScriptedClient } from '../redis/scripts.ts';
import { AckBatcher } from './ack-batcher.ts';
import type { Delivery, Source } from './source.ts';
import { ConsumerPresence, type PendingEntry } from './stream-consumers.ts';
import { fieldsAsBody, oversizedDelivery, oversizedSize, readDeferred, type RawEntry, type StreamEntries } from './stream-oversized.ts';
import { oldestNeededId } from './stream-trim.ts';
import { setOwnField } from '../redis/own-field.ts';

type StreamConfig = NonNullable<PipelineConfig['source']['stream']>;

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
  private readonly presence: ConsumerPresence;
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
  /** This source as oversized and deferred entries see it. */
  private readonly entries: StreamEntries;

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
    this.presence = new ConsumerPresence(config, pool, logger, () => this.stopped);
    this.origin = { kind: 'stream', key: this.key };
    this.entries = {
      key: this.key,
      group: this.group,
      origin: this.origin,
      pool,
      outstanding: this.outstanding,
      toDelivery: (entry, deliveryCount, receivedAt) => this.toDelivery(entry, deliveryCount, receivedAt),
    };
    this.acks = new AckBatcher(
      async (ids) => {
        await this.pool.next().xack(this.key, this.group, ...ids);
        this.maybeTrim();
      },
      (error, count) => this.logger.warn({ err: error, count }, 'XACK failed; retrying'),
    );
  }

  get consumer(): string {
    return this.presence.name;
  }

  async start(): Promise<void> {
    await this.createGroup();
    await this.presence.claimName();
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
    every(this.presence.keepEveryMs, () => this.presence.keepOutstanding(this.outstanding));
    every(this.presence.beatEveryMs, () => this.presence.beat());
  }

  private async createGroup(): Promise<void> {
    try {
      await this.pool.primary.xgroup('CREATE', this.key, this.group, this.config.start_id, 'MKSTREAM');
      this.logger.info({ group: this.group, start: this.config.start_id }, 'created consumer group');
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    }
  }

  /** Claims the pending entries of crashed consumers now, and removes those with none from the group. */
  async reapDeadConsumers(): Promise<void> {
    if (this.stopped || this.claiming) return;
    await this.presence.reapDeadConsumers(
      () => this.ready.length < this.config.batch_size,
      (pending, minIdle) => {
        this.claiming = true;
        return this.claim(pending, minIdle).finally(() => (this.claiming = false));
      },
    );
  }

  /** This consumer's entries still pending from a previous run: re-delivered first. */
  private async recoverOwnPending(): Promise<void> {
    let start = '-';
    for (;;) {
      const pending = (await this.pool.primary.xpending(this.key, this.group, start, '+', 1000, this.consumer)) as PendingEntry[];
      if (pending.length === 0) break;
      await this.claim(pending, 0);
      const last = pending[pending.length - 1] as PendingEntry;
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
      )) as PendingEntry[];
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

  private async claim(pending: PendingEntry[], minIdle: number): Promise<number> {
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
      setOwnField(fields, name, value.toString());
      if (name === 'body') body = value;
    }
    this.outstanding.add(id);
    return { id, raw: body ?? fieldsAsBody(fields), fields, fieldPairs: list, origin: this.origin, deliveryCount, receivedAt, token: id };
  }

  async fetch(max: number): Promise<Delivery[]> {
    if (this.stopped) return [];
    if (this.ready.length > 0) return this.ready.splice(0, max);
    try {
      if (this.deferred.length > 0) return await readDeferred(this.entries, this.deferred, max, this.fetchBudget);
      const entries = await this.reader.pythiaStreamReadBuffer(this.key, this.group, this.consumer, max, this.maxBytes, this.fetchBudget);
      const now = Date.now();
      if (entries.length > 0) {
        const out: Delivery[] = [];
        for (const entry of entries) {
          const detail = entry[1];
          if (Array.isArray(detail)) out.push(this.toDelivery(entry as RawEntry, 1, now));
          else if (entry[2] === 1) out.push(oversizedDelivery(this.entries, entry[0].toString(), detail, 1, now));
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
        return size === undefined ? this.toDelivery(entry, 1, now) : oversizedDelivery(this.entries, entry[0].toString(), size, 1, now);
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
    await this.presence.release();
    await closeClient(this.reader);
  }

  dropped(): number {
    return 0;
  }
}
