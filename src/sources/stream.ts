import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { PipelineConfig } from '../config/index.ts';
import type { MessageOrigin } from '../handlers/types.ts';
import type { ConnectionPool } from '../redis/pool.ts';
import { closeClient } from '../redis/pool.ts';
import type { ScriptedClient } from '../redis/scripts.ts';
import { AckBatcher } from './ack-batcher.ts';
import type { Delivery, Source } from './source.ts';

type StreamConfig = NonNullable<PipelineConfig['source']['stream']>;
type RawEntry = [Buffer, Buffer[]];

/**
 * A stream read through a consumer group. On start it re-reads this consumer's own pending entries;
 * then XREADGROUP ... >. Every claim_interval_ms it claims entries idle longer than claim_idle_ms
 * from other consumers. Acks are batched XACKs; trimming follows max_stream_length / trim_strategy.
 */
export class StreamSource implements Source {
  readonly kind = 'stream' as const;
  readonly name: string;
  readonly key: string;
  readonly group: string;
  readonly consumer: string;
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

  constructor(
    private readonly config: StreamConfig,
    private readonly reader: ScriptedClient,
    private readonly pool: ConnectionPool,
    private readonly logger: Logger,
  ) {
    this.key = config.key;
    this.name = config.key;
    this.group = config.consumer_group;
    this.consumer = config.consumer || hostname();
    this.origin = { kind: 'stream', key: this.key };
    this.acks = new AckBatcher(
      async (ids) => {
        await this.pool.next().xack(this.key, this.group, ...ids);
        this.maybeTrim();
      },
      (error, count) => this.logger.warn({ err: error, count }, 'XACK failed; retrying'),
    );
  }

  async start(): Promise<void> {
    const redis = this.pool.primary;
    try {
      await redis.xgroup('CREATE', this.key, this.group, this.config.start_id, 'MKSTREAM');
      this.logger.info({ group: this.group, start: this.config.start_id }, 'created consumer group');
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    }
    await this.recoverOwnPending();
    const timer = setInterval(() => void this.claimIdle(), this.config.claim_interval_ms);
    timer.unref();
    this.timers.push(timer);
    const keep = setInterval(() => void this.keepOutstanding(), this.keepEveryMs);
    keep.unref();
    this.timers.push(keep);
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
        await this.pool.primary.call('XCLAIM', this.key, this.group, this.consumer, String(this.keepEveryMs), ...ids.slice(i, i + 1000), 'JUSTID');
      }
    } catch (error) {
      if (!this.stopped) this.logger.warn({ err: error }, 'refreshing the idle time of in-flight entries failed');
    }
  }

  /** This consumer's entries still pending from a previous run: re-delivered first. */
  private async recoverOwnPending(): Promise<void> {
    let start = '-';
    for (;;) {
      const pending = (await this.pool.primary.xpending(this.key, this.group, start, '+', 1000, this.consumer)) as [string, string, number, number][];
      if (pending.length === 0) break;
      await this.claim(pending, 0);
      const last = pending[pending.length - 1] as [string, string, number, number];
      start = '(' + last[0];
      if (pending.length < 1000) break;
    }
    if (this.ready.length > 0) this.logger.info({ count: this.ready.length }, 'redelivering this consumer\'s pending entries from a previous run');
  }

  /** Claims entries idle for claim_idle_ms from other consumers (one page per interval, only with room). */
  async claimIdle(): Promise<void> {
    if (this.claiming || this.stopped || this.ready.length >= this.config.batch_size) return;
    this.claiming = true;
    try {
      const pending = (await this.pool.primary.call('XPENDING', this.key, this.group, 'IDLE', String(this.config.claim_idle_ms), '-', '+', String(this.config.batch_size))) as [string, string, number, number][];
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
    return { id, raw: body ?? Buffer.from(JSON.stringify(fields)), fields, origin: this.origin, deliveryCount, receivedAt, token: id };
  }

  async fetch(max: number): Promise<Delivery[]> {
    if (this.stopped) return [];
    if (this.ready.length > 0) return this.ready.splice(0, max);
    try {
      const reply = (await this.reader.xreadgroupBuffer('GROUP', this.group, this.consumer, 'COUNT', max, 'BLOCK', this.config.block_timeout_ms, 'STREAMS', this.key, '>')) as [Buffer, RawEntry[]][] | null;
      if (!reply || reply.length === 0) return [];
      const entries = (reply[0] as [Buffer, RawEntry[]])[1];
      const now = Date.now();
      return entries.map((entry) => this.toDelivery(entry, 1, now));
    } catch (error) {
      if (this.stopped) return [];
      const message = String((error as Error).message);
      if (message.includes('NOGROUP')) {
        // The stream or group was deleted under us: create it again rather than stop consuming.
        this.logger.warn('consumer group missing; creating it again');
        await this.start().catch(() => undefined);
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

  private async trim(): Promise<void> {
    const redis = this.pool.primary;
    if (this.config.trim_strategy === 'maxlen') {
      await redis.xtrim(this.key, 'MAXLEN', '~', this.config.max_stream_length);
      return;
    }
    // minid: drop only what every consumer of this group has acknowledged.
    const summary = (await redis.xpending(this.key, this.group)) as [number, string | null, string | null, unknown];
    const groups = (await redis.xinfo('GROUPS', this.key)) as unknown[][];
    const mine = groups.find((g) => String(g[1]) === this.group);
    const lastDelivered = mine ? String(mine[mine.indexOf('last-delivered-id') + 1]) : '0-0';
    const oldestPending = summary[0] > 0 && summary[1] ? summary[1] : undefined;
    const bound = oldestPending ?? nextId(lastDelivered);
    await redis.xtrim(this.key, 'MINID', '~', bound);
  }

  interrupt(): void {
    this.stopped = true;
    this.reader.disconnect();
  }

  async close(_unfinished: Delivery[]): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await this.flush();
    // Unfinished entries stay pending in the group: this consumer re-reads them on its next start,
    // and others claim them after claim_idle_ms.
    this.ready = [];
    await closeClient(this.reader);
  }

  dropped(): number {
    return 0;
  }
}

function nextId(id: string): string {
  const [ms, seq] = id.split('-');
  return `${ms}-${Number(seq ?? 0) + 1}`;
}
