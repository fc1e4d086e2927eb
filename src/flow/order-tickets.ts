import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ConnectionPool } from '../redis/pool.ts';
import { redisRetryDelay } from '../redis/retry-forever.ts';
import { withFlowScripts, type FlowClient } from '../redis/flow-scripts.ts';
import { WakeableSleep } from './wakeable-sleep.ts';

/** A fetched message's place in its key's order: the queue it is in and its ticket there. */
export interface Ticket {
  queue: string;
  ticket: string;
}

export interface OrderTicketsSettings {
  /** flowKeys.ordering(source key, group): the prefix of every key below. */
  prefix: string;
  /** How long a gone worker's tickets are kept for their messages to come back (ordering.lease_ttl_ms). */
  leaseTtlMs: number;
  /** How long the fetch lock may be held: the longest fetch (its block timeout) and then some. */
  lockTtlMs: number;
  maxInFlightPerKey: number;
  /** Unfinished messages go back to the source at a stop (at-least-once lists, streams): their tickets are kept for them. */
  keepUnfinished: boolean;
}

/**
 * A worker's mark lives this long after its last renewal (renewed every MARK_RENEW_MS): a worker not
 * heard of for this long counts as gone, and its tickets wait lease_ttl_ms more for their messages.
 */
export const MARK_TTL_MS = 3000;
const MARK_RENEW_MS = 1000;

/** An unused key queue is dropped after this long (a crashed worker's tickets in a key nobody uses again). */
const QUEUE_KEEP_MS = 7 * 24 * 3600 * 1000;

/**
 * The Redis side of `ordering` across workers (the scripts are in redis/flow-scripts.ts). Fetches of
 * all workers are taken in turn under a fetch lock, and each fetched message's ticket is appended to
 * its key's queue before the lock is released: every key's queue is in fetch order. A message runs
 * when its ticket is among the first max_in_flight_per_key of its queue, and its ticket goes when it
 * is acknowledged. Each worker keeps a mark alive (MARK_TTL_MS). A ticket of a worker whose mark is
 * gone waits lease_ttl_ms for its message to come back (requeued at a stop, recovered after a crash),
 * which then takes the ticket over and keeps its place; past that it is dropped and its key moves on.
 */
export class OrderTickets {
  /** This worker's mark; its tickets are `<instance>:<n>`. */
  readonly instance = randomBytes(8).toString('hex');
  private sequence = 0;
  private readonly clients: FlowClient[];
  private cursor = 0;
  private interrupted = false;
  private readonly sleeper = new WakeableSleep();
  private renewal: NodeJS.Timeout | undefined;

  constructor(
    private readonly settings: OrderTicketsSettings,
    private readonly pool: ConnectionPool,
    private readonly logger: Logger,
  ) {
    this.clients = pool.clients.map((client) => withFlowScripts(client));
  }

  private get client(): FlowClient {
    return this.clients[this.cursor++ % this.clients.length] as FlowClient;
  }

  private get lockKey(): string {
    return `${this.settings.prefix}fetch-lock`;
  }

  private get markKey(): string {
    return `${this.settings.prefix}owner:${this.instance}`;
  }

  queueOf(orderingKey: string): string {
    return `${this.settings.prefix}q:${orderingKey}`;
  }

  /** `identity` names the message itself (a list item's digest, a stream entry's id), so it can take its place back after a crash. */
  nextTicket(orderingKey: string, identity: string): Ticket {
    return { queue: this.queueOf(orderingKey), ticket: `${this.instance}:${++this.sequence}:${identity}` };
  }

  /** Sets this worker's mark and keeps it alive. */
  async start(): Promise<void> {
    await this.pool.primary.set(this.markKey, '1', 'PX', MARK_TTL_MS);
    this.renewal = setInterval(() => {
      this.pool.primary
        .set(this.markKey, '1', 'PX', MARK_TTL_MS)
        .catch((err: unknown) => this.logger.warn({ err }, "ordering: renewing this worker's mark failed"));
    }, MARK_RENEW_MS);
    this.renewal.unref();
  }

  /** Waits for the fetch lock; returns its token, or undefined once interrupted. Redis away: waits (fail closed). */
  async lock(): Promise<string | undefined> {
    const token = `${this.instance}:${randomBytes(4).toString('hex')}`;
    let pause = 1;
    let failures = 0;
    while (!this.interrupted) {
      try {
        const taken = await this.client.pythiaOrderLock(
          this.lockKey,
          `${this.settings.prefix}fetch-next`,
          token,
          this.instance,
          this.settings.lockTtlMs,
        );
        if (Number(taken) === 1) return token;
        failures = 0;
      } catch (error) {
        if (failures++ % 20 === 0) this.logger.warn({ err: error }, 'ordering: taking the fetch lock failed; waiting for Redis');
        pause = redisRetryDelay(failures);
      }
      await this.sleep(pause);
      pause = Math.min(10, pause * 2);
    }
    return undefined;
  }

  /** Releases the lock without registering anything (the fetch failed). */
  async unlock(token: string): Promise<void> {
    await this.register(token, []);
  }

  /**
   * Queues the tickets (in fetch order) and releases the lock. Returns, per ticket: 'own' (only this
   * worker's tickets are ahead), 'next' (right behind the one before it in this fetch) or 'foreign'
   * (another worker's ticket is ahead: it waits for its turn in Redis, see heads()).
   */
  async register(token: string, tickets: readonly Ticket[]): Promise<('own' | 'next' | 'foreign')[]> {
    const reply = await this.client.pythiaOrderRegister(
      2 + tickets.length,
      this.lockKey,
      this.markKey,
      ...tickets.map((t) => t.queue),
      token,
      this.settings.prefix,
      this.instance,
      MARK_TTL_MS,
      QUEUE_KEEP_MS,
      ...tickets.map((t) => t.ticket),
    );
    if (Number(reply[0]) !== 1)
      this.logger.warn(
        { lockTtlMs: this.settings.lockTtlMs },
        'ordering: the fetch lock expired before this fetch was registered; its messages may run out of order',
      );
    return reply.slice(1).map((n) => (Number(n) === 0 ? 'own' : Number(n) === 2 ? 'next' : 'foreign'));
  }

  /** Per ticket: 'run' (its turn), 'wait', or 'lost' (dropped while this worker's mark had expired). */
  async heads(tickets: readonly Ticket[]): Promise<('run' | 'wait' | 'lost')[]> {
    const reply = await this.client.pythiaOrderHeads(
      tickets.length,
      ...tickets.map((t) => t.queue),
      this.settings.prefix,
      this.settings.maxInFlightPerKey,
      this.settings.leaseTtlMs,
      ...tickets.map((t) => t.ticket),
    );
    return reply.map((n) => (Number(n) === 1 ? 'run' : Number(n) === 2 ? 'lost' : 'wait'));
  }

  async release(tickets: readonly Ticket[]): Promise<void> {
    if (tickets.length === 0) return;
    await this.client.pythiaOrderRelease(tickets.length, ...tickets.map((t) => t.queue), ...tickets.map((t) => t.ticket));
  }

  /** Ends a lock wait in progress; no lock is taken after this. */
  interrupt(): void {
    this.interrupted = true;
    this.sleeper.wakeNow();
  }

  /**
   * Removes this worker's mark. The tickets of unfinished messages stay when the source hands those
   * messages back (keepUnfinished): whoever fetches one again takes its place over. Otherwise they go.
   */
  async close(left: readonly Ticket[]): Promise<void> {
    clearInterval(this.renewal);
    if (!this.settings.keepUnfinished) await this.release(left);
    await this.pool.primary.del(this.markKey);
  }

  private sleep(ms: number): Promise<void> {
    return this.sleeper.sleep(ms);
  }
}
