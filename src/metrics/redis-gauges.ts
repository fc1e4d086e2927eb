import type { Logger } from 'pino';
import type { PipelineConfig } from '../config/index.ts';
import { keys } from '../redis/keys.ts';
import { LIST_LENGTHS } from '../redis/scripts.ts';
import type { WatchedPipeline } from './watched-pipeline.ts';
import { CONNECTION_STATES, type ConnectionState, type PythiaMetrics } from './registry.ts';

type GaugeSettings = PipelineConfig['metrics']['redis'];

type Reply = [Error | null, unknown];

/** ioredis statuses (Redis and Cluster) folded into the four states of pythia_redis_connections. */
export function connectionState(status: string): ConnectionState {
  switch (status) {
    case 'ready':
      return 'ready';
    case 'reconnecting':
      return 'reconnecting';
    case 'wait':
    case 'connecting':
    case 'connect':
      return 'connecting';
    default:
      return 'closed';
  }
}

/**
 * The Redis-side gauges of one pipeline: every metrics.redis.interval_ms, one pipelined round trip
 * (list lengths through one small script, or XLEN + XINFO GROUPS, plus INFO memory). A failed or
 * skipped sample is counted and logged, and never affects the pipeline itself.
 */
export class RedisGaugeSampler {
  private timer: NodeJS.Timeout | undefined;
  private inProgress: Promise<void> | undefined;
  private stopped = false;
  private failing = false;
  /** Keys whose queue-length series were set by the last sample: ones that vanish are removed. */
  private keysSeen = new Set<string>();
  private readonly removeHook: (() => void) | undefined;

  constructor(
    private readonly metrics: PythiaMetrics,
    private readonly pipeline: WatchedPipeline,
    private readonly settings: GaugeSettings,
    private readonly logger: Logger,
  ) {
    metrics.sampleFailures.inc({ pipeline: pipeline.name }, 0);
    if (settings.connection_pool) {
      const children = Object.fromEntries(
        CONNECTION_STATES.map((state) => [state, metrics.connections.labels({ pipeline: pipeline.name, state })]),
      );
      const counts: Record<ConnectionState, number> = { ready: 0, connecting: 0, reconnecting: 0, closed: 0 };
      // Connection states are known locally: read them at scrape time rather than sampling them.
      this.removeHook = metrics.onScrape('connections', () => {
        for (const state of CONNECTION_STATES) counts[state] = 0;
        for (const client of pipeline.connections) counts[connectionState(client.status)]++;
        for (const state of CONNECTION_STATES) children[state]?.set(counts[state]);
      });
    }
  }

  private get wantsRedis(): boolean {
    const queue = this.settings.queue_length && this.pipeline.source.kind !== 'channel';
    return queue || this.settings.memory_usage;
  }

  start(): void {
    if (!this.wantsRedis || this.timer) return;
    const tick = () => void this.sample();
    tick();
    this.timer = setInterval(tick, this.settings.interval_ms);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.removeHook?.();
  }

  /** Removes the series this sampler set (the pipeline left the process). */
  forget(): void {
    const pipeline = this.pipeline.name;
    for (const key of this.keysSeen) this.metrics.queueLength.remove({ pipeline, key });
    this.keysSeen.clear();
    const group = this.pipeline.loaded.config.source.stream?.consumer_group;
    if (group !== undefined) {
      this.metrics.streamPending.remove({ pipeline, group });
      this.metrics.streamLag.remove({ pipeline, group });
    }
    for (const state of CONNECTION_STATES) this.metrics.connections.remove({ pipeline, state });
  }

  /** One sample now (also what the timer runs). Never throws; overlapping calls share the running one. */
  sample(): Promise<void> {
    this.inProgress ??= this.sampleOnce()
      .catch((error: unknown) => this.failed(error))
      .finally(() => (this.inProgress = undefined));
    return this.inProgress;
  }

  private async sampleOnce(): Promise<void> {
    const client = this.pipeline.pool.primary;
    // Commands to a connection that is down would wait in ioredis' offline queue: skip instead.
    if (client.status !== 'ready') throw new Error(`connection is ${client.status}`);
    const { source, loaded } = this.pipeline;
    const batch = client.pipeline();
    const readers: ((reply: unknown) => void)[] = [];
    const seen = new Set<string>();
    const name = this.pipeline.name;
    if (this.settings.queue_length && source.key !== undefined) {
      const key = source.key;
      if (source.kind === 'list') {
        batch.eval(LIST_LENGTHS.lua, LIST_LENGTHS.numberOfKeys, key, keys.consumers(key), keys.processing(key, ''));
        readers.push((reply) => {
          const values = reply as (string | number)[];
          this.setQueue(seen, key, Number(values[0]));
          // One series for all processing lists: consumer names change with every restart (hostname,
          // pid, random), so a series per consumer would grow without bound. Per consumer: the log.
          const perConsumer: Record<string, number> = {};
          let inProcessing = 0;
          for (let i = 1; i + 1 < values.length; i += 2) {
            perConsumer[String(values[i])] = Number(values[i + 1]);
            inProcessing += Number(values[i + 1]);
          }
          this.setQueue(seen, processingSeries(key), inProcessing);
          this.logger.debug({ key, processing: perConsumer }, 'processing lists by consumer');
        });
      } else {
        const group = loaded.config.source.stream?.consumer_group ?? '';
        batch.xlen(key);
        readers.push((reply) => this.setQueue(seen, key, Number(reply)));
        batch.xinfo('GROUPS', key);
        readers.push((reply) => {
          const info = (reply as unknown[][]).map(pairs).find((g) => String(g.name) === group);
          if (!info) return;
          this.metrics.streamPending.set({ pipeline: name, group }, Number(info.pending));
          if (info.lag === null || info.lag === undefined) this.metrics.streamLag.remove({ pipeline: name, group });
          else this.metrics.streamLag.set({ pipeline: name, group }, Number(info.lag));
        });
      }
    }
    if (this.settings.memory_usage) {
      batch.info('memory');
      readers.push((reply) => {
        const match = /^used_memory:(\d+)/m.exec(String(reply));
        if (match) this.metrics.memoryUsed.set(Number(match[1]));
      });
    }
    if (readers.length === 0) return;
    // A connection lost mid-sample parks the commands in ioredis' queue until it reconnects: give
    // up on them after a while so the next interval samples again (their late replies are ignored).
    const timeoutMs = Math.max(this.settings.interval_ms, 2000);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
    });
    const exec = batch.exec();
    exec.catch(() => undefined);
    const replies = ((await Promise.race([exec, timedOut]).finally(() => clearTimeout(timer))) ?? []) as Reply[];
    if (this.stopped) return;
    const errors: string[] = [];
    readers.forEach((read, i) => {
      const [error, reply] = replies[i] ?? [new Error('no reply'), undefined];
      if (error) errors.push(error.message);
      else read(reply);
    });
    // A reply that failed leaves its series out of `seen`: only a successful sample removes series.
    if (errors.length === 0) {
      for (const key of this.keysSeen) if (!seen.has(key)) this.metrics.queueLength.remove({ pipeline: name, key });
      this.keysSeen = seen;
    } else {
      for (const key of seen) this.keysSeen.add(key);
      throw new Error(errors.join('; '));
    }
    if (this.failing) this.logger.info('redis gauges sampled again');
    this.failing = false;
  }

  private setQueue(seen: Set<string>, key: string, value: number): void {
    seen.add(key);
    this.metrics.queueLength.set({ pipeline: this.pipeline.name, key }, value);
  }

  private failed(error: unknown): void {
    if (this.stopped) return;
    this.metrics.sampleFailures.inc({ pipeline: this.pipeline.name });
    const text = error instanceof Error ? error.message : String(error);
    // Warn once when sampling starts failing, then stay quiet (debug) until it works again.
    if (this.failing) this.logger.debug({ err: text }, 'sampling redis gauges failed');
    else this.logger.warn({ err: text }, 'sampling redis gauges failed; the pipeline is unaffected, retrying every interval');
    this.failing = true;
  }
}

/** The key label of the summed processing lists of a list source: the pattern of their keys. */
export function processingSeries(key: string): string {
  return `${keys.processing(key, '')}*`;
}

/** XINFO replies are flat [name, value, name, value, ...] arrays. */
function pairs(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}
