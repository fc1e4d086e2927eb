import type { Logger } from 'pino';
import type { PipelineConfig } from '../config/index.ts';
import { sourceKey } from '../config/targets.ts';
import { flowKeys } from '../redis/keys.ts';
import type { ConnectionPool } from '../redis/pool.ts';
import { redisRetryDelay } from '../redis/retry-forever.ts';
import { withFlowScripts, type FlowClient } from '../redis/flow-scripts.ts';
import { WakeableSleep } from './wakeable-sleep.ts';

/**
 * Permits of `rate_limit`: the dispatcher takes one per message before fetching it (and one per
 * retry before its attempt), so a limited pipeline never holds messages fetched only to wait.
 */
export interface Permits {
  /** Waits until at least one permit is granted; returns how many (at most `wanted`), or 0 once interrupted. */
  take(wanted: number): Promise<number>;
  /** Gives back permits taken and not used (a fetch that brought fewer messages than asked). */
  giveBack(count: number): void;
  /** Ends a wait in progress (shutdown); every later take() returns 0. */
  interrupt(): void;
}

/** The burst allowance: the permits of this many milliseconds may be taken at once (at least 1, at most max). */
export const BURST_MS = 100;

/** GCRA's parameters for `max` permits per `perMs`: the spacing of permits and how far ahead of it one may be taken. */
export interface Pacing {
  intervalUs: number;
  toleranceUs: number;
}

export function pacing(max: number, perMs: number): Pacing {
  const intervalUs = (perMs * 1000) / max;
  const burst = Math.max(1, Math.min(max, Math.floor((max * BURST_MS) / perMs)));
  return { intervalUs, toleranceUs: (burst - 1) * intervalUs };
}

export interface PermitsParts {
  /** Milliseconds, monotonic (performance.now unless a test drives time). */
  now?: () => number;
  /** Seconds spent waiting for a permit (pythia_rate_limit_wait_seconds_total). */
  onWait: (seconds: number) => void;
  logger: Logger;
}

/** The wait-and-ask loop shared by both scopes; `request` is one ask: [granted, ms until the next permit]. */
abstract class PacedPermits implements Permits {
  private interrupted = false;
  private readonly sleeper = new WakeableSleep();
  private returned = 0;
  protected readonly now: () => number;

  constructor(protected readonly parts: PermitsParts) {
    this.now = parts.now ?? (() => performance.now());
  }

  protected abstract request(wanted: number, returned: number): Promise<[number, number]>;

  async take(wanted: number): Promise<number> {
    let waited = 0;
    let failures = 0;
    try {
      while (!this.interrupted) {
        const returned = this.returned;
        this.returned = 0;
        let granted = 0;
        let waitMs: number;
        try {
          [granted, waitMs] = await this.request(wanted, returned);
          failures = 0;
        } catch (error) {
          // Fail closed: without the shared state no permit is granted; the worker waits for Redis.
          this.returned += returned;
          if (failures++ % 20 === 0) this.parts.logger.warn({ err: error }, 'rate limit: taking a permit failed; waiting for Redis');
          waitMs = redisRetryDelay(failures);
        }
        if (this.interrupted) {
          this.giveBack(granted);
          return 0;
        }
        if (granted > 0) return granted;
        const started = this.now();
        await this.sleep(Math.max(1, waitMs));
        waited += this.now() - started;
      }
      return 0;
    } finally {
      if (waited > 0) this.parts.onWait(waited / 1000);
    }
  }

  giveBack(count: number): void {
    if (count <= 0) return;
    this.returned += count;
    // Handed back at once, so another worker can use them; a failure loses them (fail closed).
    const returned = this.returned;
    this.returned = 0;
    this.request(0, returned).catch(() => undefined);
  }

  interrupt(): void {
    this.interrupted = true;
    this.sleeper.wakeNow();
  }

  private sleep(ms: number): Promise<void> {
    return this.sleeper.sleep(ms);
  }
}

/** scope: worker — the same pacing, kept in this process. */
export class LocalPermits extends PacedPermits {
  /** The theoretical arrival time, in ms of `now()`. */
  private tat = Number.NEGATIVE_INFINITY;
  private readonly intervalMs: number;
  private readonly toleranceMs: number;

  constructor(pace: Pacing, parts: PermitsParts) {
    super(parts);
    this.intervalMs = pace.intervalUs / 1000;
    this.toleranceMs = pace.toleranceUs / 1000;
  }

  protected request(wanted: number, returned: number): Promise<[number, number]> {
    const now = this.now();
    const tat = Math.max(now, this.tat - returned * this.intervalMs);
    const room = Math.floor((now + this.toleranceMs - tat) / this.intervalMs + 1e-9) + 1;
    const granted = Math.max(0, Math.min(wanted, room));
    this.tat = tat + granted * this.intervalMs;
    return Promise.resolve([granted, granted > 0 ? 0 : Math.ceil(this.tat - this.toleranceMs - now)]);
  }
}

/** scope: global — one state in Redis (RATE_TAKE in redis/flow-scripts.ts), on Redis's clock. */
export class RedisPermits extends PacedPermits {
  private readonly clients: FlowClient[];
  private cursor = 0;

  constructor(
    private readonly pace: Pacing,
    private readonly key: string,
    pool: ConnectionPool,
    parts: PermitsParts,
  ) {
    super(parts);
    this.clients = pool.clients.map((client) => withFlowScripts(client));
  }

  protected async request(wanted: number, returned: number): Promise<[number, number]> {
    const client = this.clients[this.cursor++ % this.clients.length] as FlowClient;
    const [granted, waitMs] = await client.pythiaRateTake(this.key, this.pace.intervalUs, this.pace.toleranceUs, wanted, returned);
    return [Number(granted), Number(waitMs)];
  }
}

/** The pipeline's permits, or undefined when it has no rate_limit. */
export function createPermits(config: PipelineConfig, pool: ConnectionPool, parts: PermitsParts): Permits | undefined {
  const limit = config.rate_limit;
  if (!limit) return undefined;
  const pace = pacing(limit.max, limit.per_ms);
  if (limit.scope === 'worker') return new LocalPermits(pace, parts);
  const key = flowKeys.rateLimit(sourceKey(config) ?? `pythia:${config.name}`, config.name);
  return new RedisPermits(pace, key, pool, parts);
}
