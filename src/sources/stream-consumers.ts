import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { PipelineConfig } from '../config/index.ts';
import { keys } from '../redis/keys.ts';
import type { ConnectionPool } from '../redis/pool.ts';
import { claimConsumerName, ConsumerNameInUseError } from './consumer-name.ts';
import { record } from './stream-trim.ts';

type StreamConfig = NonNullable<PipelineConfig['source']['stream']>;
export type PendingEntry = [id: string, consumer: string, idleMs: number, deliveries: number];

/**
 * This process's place in a stream's consumer group: its consumer name, held by a heartbeat key; the
 * idle time of the entries it holds kept fresh; and crashed consumers (heartbeat gone) reaped.
 */
export class ConsumerPresence {
  private consumerName: string;
  /** This process's mark in the heartbeat key: another value there is another process. */
  private readonly instance = randomBytes(8).toString('hex');

  constructor(
    private readonly config: StreamConfig,
    private readonly pool: ConnectionPool,
    private readonly logger: Logger,
    private readonly isStopped: () => boolean,
  ) {
    this.consumerName = config.consumer || hostname();
  }

  get name(): string {
    return this.consumerName;
  }

  private get heartbeat(): string {
    return keys.streamHeartbeat(this.config.key, this.config.consumer_group, this.consumerName);
  }

  get keepEveryMs(): number {
    return Math.max(50, Math.floor(this.config.claim_idle_ms / 4));
  }

  get beatEveryMs(): number {
    return Math.max(250, Math.floor(this.config.heartbeat_ttl_ms / 3));
  }

  /**
   * One live process per consumer name (two would each treat the other's pending entries as their
   * own). A configured name in use fails the pipeline; the default (the hostname) falls back to a
   * unique name, so several processes on one host just work.
   */
  async claimName(): Promise<void> {
    const what = `source.stream.consumer "${this.consumerName}" of group ${this.config.consumer_group} on stream ${this.config.key}`;
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

  async beat(): Promise<void> {
    if (this.isStopped()) return;
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
  async reapDeadConsumers(hasRoom: () => boolean, claim: (pending: PendingEntry[], minIdle: number) => Promise<number>): Promise<void> {
    const { key, consumer_group: group, heartbeat_ttl_ms: ttl, batch_size } = this.config;
    const redis = this.pool.primary;
    try {
      const consumers = ((await redis.xinfo('CONSUMERS', key, group)) as unknown[][]).map(record);
      for (const consumer of consumers) {
        const name = String(consumer.name);
        if (name === this.consumerName || Number(consumer.idle) < ttl) continue;
        if ((await redis.exists(keys.streamHeartbeat(key, group, name))) === 1) continue;
        if (Number(consumer.pending) === 0) {
          await redis.xgroup('DELCONSUMER', key, group, name);
          this.logger.info({ consumer: name }, 'removed a crashed consumer with nothing pending from the group');
          continue;
        }
        if (!hasRoom()) continue;
        const pending = (await redis.xpending(key, group, '-', '+', batch_size, name)) as PendingEntry[];
        // Its entries have been idle at least since its last heartbeat (ttl - ttl/3 ago): half the ttl
        // lets only the first of several live consumers claim each one.
        const claimed = await claim(pending, Math.floor(ttl / 2));
        if (claimed > 0) this.logger.warn({ count: claimed, consumer: name }, 'claimed the pending entries of a crashed consumer');
      }
    } catch (error) {
      if (!this.isStopped()) this.logger.warn({ err: error }, 'looking for crashed consumers failed');
    }
  }

  /**
   * Entries still in our hands (being processed, retried, or waiting to be fetched) get their idle time
   * reset with XCLAIM ... JUSTID (which does not count a delivery), so that another live replica
   * never claims an entry for taking longer than claim_idle_ms. Only entries idle for a refresh
   * period are touched: one another consumer has just claimed is left alone.
   */
  async keepOutstanding(outstanding: ReadonlySet<string>): Promise<void> {
    if (this.isStopped() || outstanding.size === 0) return;
    const ids = [...outstanding];
    try {
      for (let i = 0; i < ids.length; i += 1000) {
        await this.pool.primary.call(
          'XCLAIM',
          this.config.key,
          this.config.consumer_group,
          this.consumerName,
          String(this.keepEveryMs),
          ...ids.slice(i, i + 1000),
          'JUSTID',
        );
      }
    } catch (error) {
      if (!this.isStopped()) this.logger.warn({ err: error }, 'refreshing the idle time of in-flight entries failed');
    }
  }

  /**
   * On a clean stop: the heartbeat is given up (if still ours), and with nothing pending the consumer
   * leaves the group. Unfinished entries stay pending: this consumer re-reads them on its next start,
   * and others claim them once the heartbeat is gone.
   */
  async release(): Promise<void> {
    const { key, consumer_group: group } = this.config;
    try {
      const redis = this.pool.primary;
      if ((await redis.get(this.heartbeat)) === this.instance) await redis.del(this.heartbeat);
      const pending = (await redis.xpending(key, group, '-', '+', 1, this.consumerName)) as unknown[];
      if (pending.length === 0) await redis.xgroup('DELCONSUMER', key, group, this.consumerName);
    } catch (error) {
      this.logger.warn({ err: error }, 'releasing the consumer name failed; it expires with its heartbeat');
    }
  }
}
