import type { Logger } from 'pino';
import type { PipelineConfig } from '../config/index.ts';
import { subscriptions } from '../config/targets.ts';
import type { MessageOrigin } from '../handlers/types.ts';
import type { RedisClient } from '../redis/connection.ts';
import { closeClient } from '../redis/pool.ts';
import type { Delivery, Source } from './source.ts';

const NO_FIELDS: Record<string, string> = Object.freeze({}) as Record<string, string>;

type ChannelConfig = NonNullable<PipelineConfig['source']['channel']>;

/**
 * Pub/sub: SUBSCRIBE and PSUBSCRIBE on a dedicated connection. Messages wait in a bounded buffer
 * while handlers are busy; beyond `buffer` they are dropped and counted. ioredis resubscribes after
 * a reconnect. At-most-once by nature: Redis keeps nothing for a subscriber that is away.
 */
export class ChannelSource implements Source {
  readonly kind = 'channel' as const;
  readonly name: string;
  readonly key = undefined;
  private buffer: Delivery[] = [];
  private head = 0;
  private droppedCount = 0;
  private sequence = 0;
  private waiter: (() => void) | undefined;
  private stopped = false;
  private readonly origins = new Map<string, MessageOrigin>();

  constructor(
    private readonly config: ChannelConfig,
    private readonly subscriber: RedisClient,
    private readonly logger: Logger,
  ) {
    this.name = subscriptions(config).join(',');
  }

  async start(): Promise<void> {
    // Messages mostly come from one channel at a time: reuse its origin rather than decode the name each time.
    let lastChannel: Buffer | undefined;
    let lastOrigin: MessageOrigin | undefined;
    this.subscriber.on('messageBuffer', (channel: Buffer, payload: Buffer) => {
      if (!lastOrigin || !lastChannel?.equals(channel)) {
        lastChannel = channel;
        lastOrigin = this.origin(channel.toString(), undefined);
      }
      this.pushWith(lastOrigin, payload);
    });
    this.subscriber.on('pmessageBuffer', (pattern: Buffer, channel: Buffer, payload: Buffer) =>
      this.push(channel.toString(), pattern.toString(), payload),
    );
    if (this.config.channels.length > 0) await this.subscriber.subscribe(...this.config.channels);
    if (this.config.patterns.length > 0) await this.subscriber.psubscribe(...this.config.patterns);
  }

  private origin(channel: string, pattern: string | undefined): MessageOrigin {
    const id = pattern === undefined ? channel : `${pattern}\u0000${channel}`;
    let origin = this.origins.get(id);
    if (!origin) {
      origin = pattern === undefined ? { kind: 'channel', channel } : { kind: 'channel', channel, pattern };
      if (this.origins.size < 10_000) this.origins.set(id, origin);
    }
    return origin;
  }

  private push(channel: string, pattern: string | undefined, raw: Buffer): void {
    this.pushWith(this.origin(channel, pattern), raw);
  }

  private pushWith(origin: MessageOrigin, raw: Buffer): void {
    if (this.buffer.length - this.head >= this.config.buffer) {
      this.droppedCount++;
      if (this.droppedCount === 1 || this.droppedCount % 10_000 === 0)
        this.logger.warn({ dropped: this.droppedCount, buffer: this.config.buffer }, 'pub/sub buffer full: dropping messages');
      return;
    }
    this.buffer.push({ id: String(++this.sequence), raw, fields: NO_FIELDS, origin, deliveryCount: 1, receivedAt: Date.now(), token: '' });
    const wake = this.waiter;
    if (wake) {
      this.waiter = undefined;
      wake();
    }
  }

  private take(max: number): Delivery[] {
    const end = Math.min(this.buffer.length, this.head + max);
    const out = this.buffer.slice(this.head, end);
    this.head = end;
    if (this.head > 4096 && this.head * 2 > this.buffer.length) {
      this.buffer = this.buffer.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  async fetch(max: number): Promise<Delivery[]> {
    if (this.buffer.length > this.head) return this.take(max);
    if (this.stopped) return [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve();
      }, 1000);
      this.waiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    return this.take(max);
  }

  ack(): void {}

  async flush(): Promise<void> {}

  interrupt(): void {
    this.stopped = true;
    this.waiter?.();
  }

  async close(unfinished: Delivery[]): Promise<void> {
    const lost = unfinished.length + this.buffer.length - this.head;
    if (lost > 0) this.logger.warn({ count: lost }, 'pub/sub messages not processed at shutdown (at-most-once)');
    await closeClient(this.subscriber);
  }

  dropped(): number {
    return this.droppedCount;
  }
}
