/**
 * `pythia-worker/testing`: a harness for handler authors. It runs one pipeline file, as `pythia run` would,
 * against a Redis you name or a private redis-server it starts; you push bodies into the pipeline's
 * source and await what came out of its output and its dead letter.
 *
 * ```ts
 * import { PipelineHarness } from 'pythia-worker/testing';
 * const h = await PipelineHarness.start('pipelines/orders.yml');
 * await h.push([{ id: 1, amount: 10 }, { id: 2, amount: -1 }]);
 * const [done] = await h.results(1);
 * const [dead] = await h.deadLetters(1);
 * await h.stop();
 * ```
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { loadPipelineFile, PipelineConfigError, type LoadedPipeline } from '../config/index.ts';
import { deadLetterTarget, outputTarget, sourceKey, sourceTarget, type Target } from '../config/targets.ts';
import type { DeadLetterEntry } from '../outputs/dead-letter.ts';
import { writeTo } from '../redis/write.ts';
import { wrapPythia } from '../redis/pythia-envelope.ts';
import { createLogger, type LogLevel } from '../runtime/logger.ts';
import { Worker } from '../runtime/worker.ts';
import { RedisServer, startRedis } from './redis-server.ts';

export { findRedisServer, freePort, RedisServer, startRedis, type RedisServerOptions } from './redis-server.ts';
export type { DeadLetterEntry } from '../outputs/dead-letter.ts';
export { waitFor, type WaitForOptions } from './wait-for.ts';

export interface HarnessOptions {
  /** Run against this Redis (its connection replaces the file's). Default: a private redis-server on a free port. */
  redisUrl?: string;
  /** Variables for `${VAR}` in the file, on top of process.env. */
  env?: Record<string, string>;
  /** Default 'silent'; or pass your own logger. */
  logLevel?: LogLevel;
  logger?: Logger;
  /** How long results()/deadLetters() wait by default (ms). Default 10000. */
  timeoutMs?: number;
  /** Delete the source, output and dead-letter keys before starting (default true: tests start clean). */
  clean?: boolean;
}

/** A dead letter as written by the pipeline, with its original payload decoded (`body`: JSON when it parses). */
export interface DeadLetter extends DeadLetterEntry {
  body: unknown;
}

export class PipelineHarness {
  private constructor(
    readonly pipeline: LoadedPipeline,
    readonly worker: Worker,
    /** A client on the pipeline's Redis, for your own assertions (closed by stop()). */
    readonly client: Redis,
    readonly url: string,
    /** The private redis-server, when the harness started one. */
    readonly server: RedisServer | undefined,
    private readonly timeoutMs: number,
    private readonly collected: string[],
    private readonly subscriber: Redis | undefined,
  ) {}

  /** Loads and validates `file` (throws PipelineConfigError with FILE:LINE:COL lines), then starts it. */
  static async start(file: string, options: HarnessOptions = {}): Promise<PipelineHarness> {
    const result = await loadPipelineFile(file, { env: { ...process.env, ...options.env } });
    if (!result.ok) throw new PipelineConfigError(result.issues);
    const pipeline = result.pipeline;
    const server = options.redisUrl ? undefined : await startRedis();
    const url = options.redisUrl ?? (server as RedisServer).url;
    const client = new Redis(url, { maxRetriesPerRequest: null });
    client.on('error', () => {});
    const logger = options.logger ?? createLogger(options.logLevel ?? 'silent');
    try {
      if (options.clean ?? true) {
        const keys = [sourceKey(pipeline.config), outputTarget(pipeline.config)?.key, deadLetterTarget(pipeline.config).key].filter(
          (k): k is string => k !== undefined,
        );
        if (keys.length > 0) await client.del(...keys);
      }
      return await PipelineHarness.boot(pipeline, url, logger, client, server, options.timeoutMs ?? 10_000);
    } catch (error) {
      client.disconnect();
      await server?.stop();
      throw error;
    }
  }

  private static async boot(
    pipeline: LoadedPipeline,
    url: string,
    logger: Logger,
    client: Redis,
    server: RedisServer | undefined,
    timeoutMs: number,
  ): Promise<PipelineHarness> {
    // A channel output is fire-and-forget: subscribe before the pipeline runs so no result is missed.
    const output = outputTarget(pipeline.config);
    const collected: string[] = [];
    let subscriber: Redis | undefined;
    if (output?.kind === 'channel') {
      subscriber = new Redis(url, { maxRetriesPerRequest: null });
      subscriber.on('error', () => {});
      subscriber.on('message', (_channel: string, message: string) => collected.push(message));
      await subscriber.subscribe(output.key);
    }
    try {
      const worker = await Worker.start([pipeline], { logger, redisUrl: url });
      return new PipelineHarness(pipeline, worker, client, url, server, timeoutMs, collected, subscriber);
    } catch (error) {
      subscriber?.disconnect();
      throw error;
    }
  }

  /** The pipeline's name. */
  get name(): string {
    return this.pipeline.config.name;
  }

  /**
   * Sends bodies to the pipeline's source as a producer would (LPUSH, or RPUSH with pop_from: left / XADD
   * `body` / PUBLISH), in order. Objects are sent as JSON; strings and Buffers as they are; with
   * message.envelope: pythia, list and channel bodies go inside Python Pythia's envelope.
   */
  async push(bodies: unknown): Promise<void> {
    const list = Array.isArray(bodies) ? (bodies as unknown[]) : [bodies];
    const { config } = this.pipeline;
    const enveloped = config.message.envelope === 'pythia' && !config.source.stream;
    const payloads = list.map((b) => (enveloped ? wrapPythia(b, {}) : typeof b === 'string' || Buffer.isBuffer(b) ? b : JSON.stringify(b)));
    if (payloads.length === 0) return;
    const target = sourceTarget(this.pipeline.config);
    if (target === undefined)
      throw new Error(`${this.name} subscribes only to patterns: publish with harness.client.publish(channel, body)`);
    // One at a time, awaited: the source sees them in the order given.
    for (const p of payloads) await writeTo(this.client, target, p);
  }

  /**
   * Waits until the output holds at least `n` values and returns all of them, oldest first (JSON
   * parsed when it parses). Throws after the timeout, saying how many arrived and what was dead-lettered.
   */
  async results<T = unknown>(n: number, timeoutMs = this.timeoutMs): Promise<T[]> {
    const target = outputTarget(this.pipeline.config);
    if (!target) throw new Error(`${this.name} has no output: a handler's return value is only kept when output is set`);
    const values = await this.poll(() => this.read(target), n, timeoutMs, 'results', `output ${target.kind} "${target.key}"`);
    return values.map(parse) as T[];
  }

  /** Waits until the dead letter holds at least `n` entries and returns them, oldest first. */
  async deadLetters(n: number, timeoutMs = this.timeoutMs): Promise<DeadLetter[]> {
    const target = deadLetterTarget(this.pipeline.config);
    const values = await this.poll(() => this.read(target), n, timeoutMs, 'dead letters', `dead letter ${target.kind} "${target.key}"`);
    return values.map((v) => {
      const entry = JSON.parse(v) as DeadLetterEntry;
      const raw = entry.payload_encoding === 'base64' ? Buffer.from(entry.payload, 'base64').toString('utf8') : entry.payload;
      return { ...entry, body: parse(raw) };
    });
  }

  /** Messages still waiting in the source (list length, or stream entries not yet acknowledged by the group). */
  async pending(): Promise<number> {
    const { source } = this.pipeline.config;
    if (source.list) return this.client.llen(source.list.key);
    if (source.stream) {
      const summary = (await this.client.call('XPENDING', source.stream.key, source.stream.consumer_group).catch(() => [0])) as [number];
      return Number(summary[0] ?? 0);
    }
    return 0;
  }

  /** Graceful stop of the pipeline, then the clients and the private redis-server. */
  async stop(): Promise<void> {
    await this.worker.stop();
    this.subscriber?.disconnect();
    this.client.disconnect();
    await this.server?.stop();
  }

  private async read(target: Target): Promise<string[]> {
    if (target.kind === 'channel') return [...this.collected];
    if (target.kind === 'list') {
      // Oldest first: an LPUSHed list reads right to left, an RPUSHed one (output.envelope: pythia) left to right.
      const values = await this.client.lrange(target.key, 0, -1);
      return target.push === 'right' ? values : values.reverse();
    }
    const entries = (await this.client.xrange(target.key, '-', '+')) as [string, string[]][];
    return entries.map(([, fields]) => fields[fields.indexOf('body') + 1] ?? '');
  }

  private async poll(read: () => Promise<string[]>, n: number, timeoutMs: number, what: string, where: string): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const values = await read();
      if (values.length >= n) return values;
      if (Date.now() > deadline) {
        const dead = what === 'results' ? await this.read(deadLetterTarget(this.pipeline.config)) : [];
        const hint =
          dead.length > 0
            ? `; ${dead.length} went to the dead letter, first: ${(JSON.parse(dead[0] as string) as DeadLetterEntry).error}`
            : '';
        throw new Error(`${this.name}: expected ${n} ${what} in the ${where} within ${timeoutMs} ms, got ${values.length}${hint}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
