import path from 'node:path';
import { Ajv } from 'ajv';
import { loadPipelineFile, pipelineSchema, PipelineConfigError, type LoadedPipeline, type PipelineConfig } from '../config/index.ts';
import { pushEndFor, sourceTarget, type Target } from '../config/targets.ts';
import { planConnection, type ConnectionPlan, type RedisClient } from '../redis/connection.ts';
import { closeClient } from '../redis/pool.ts';
import { queueWrites, streamEntryCommand } from '../redis/write.ts';
import { registerRedisSecrets, scrubSecrets } from '../redis/redact.ts';
import { nativeEnvelope, type Envelope } from '../redis/envelope.ts';
import { envelopeNamed } from '../redis/envelopes.ts';
import { wrapPythia } from '../redis/pythia-envelope.ts';
import { bodyValidator, encodeBody, InvalidBodyError } from './body.ts';
import { producerTracer, type MessageSendSpan, type ProducerTracer, type ProducerTracingOption } from '../tracing/producer-trace.ts';

export { InvalidBodyError } from './body.ts';

import {
  ProduceError,
  type InlineProducerOptions,
  type Outgoing,
  type PipelineProducerOptions,
  type SendOptions,
  type SendResult,
} from './options.ts';
export {
  ProduceError,
  type InlineProducerOptions,
  type Outgoing,
  type PipelineProducerOptions,
  type ProducerOptions,
  type ProducerTarget,
  type SendOptions,
  type SendResult,
} from './options.ts';

interface Resolved {
  target: Target;
  tracing: ProducerTracingOption;
  envelope: Envelope;
  format: PipelineConfig['message']['format'];
  maxBytes: number;
  validate: ((bytes: Buffer) => void) | undefined;
  connectTimeoutMs: number;
}

/** One message encoded for Redis, with its span when the producer traces. */
interface Prepared {
  payload: Buffer | Buffer[];
  id: string;
  span?: MessageSendSpan | undefined;
  /** Lists: pushed to the end the consumers take from (SendOptions.priority). */
  priority: boolean;
}

/**
 * The body inside Python Pythia's envelope: the JSON value itself for message.format json (a dict stays a
 * dict for Python), the text for text and binary (bytes that are not UTF-8 as hex, as Python sends them).
 */
function pythiaBody(bytes: Buffer, format: PipelineConfig['message']['format'], where: (text: string) => Error): unknown {
  if (format !== 'json') return bytes;
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (error) {
    throw where(`message.format json: the body is not JSON, so it cannot go inside the envelope as a value (${(error as Error).message})`);
  }
}

/** Messages per pipelined round trip in sendMany. */
const CHUNK = 1000;

/**
 * Sends messages the way a pipeline's source reads them: LPUSH for a list (the worker takes from the
 * right, so order is kept; RPUSH when it takes from the left), XADD with a `body` field for a stream,
 * PUBLISH for a channel; headers as docs/headers.md describes, or in Python Pythia's envelope. Generic in the body type: `Producer<Order>` with the type `pythia types`
 * generates checks bodies at compile time, and `validate` checks them at run time against message.schema.
 */
export class Producer<Body = unknown> {
  private readonly client: RedisClient;
  private lastError = '';
  private closed = false;
  private tracer: Promise<ProducerTracer | undefined> | undefined;

  private constructor(
    private readonly plan: ConnectionPlan,
    private readonly settings: Resolved,
  ) {
    this.client = plan.create('producer');
    this.client.on('error', (error: Error) => {
      this.lastError = scrubSecrets(error.message);
    });
  }

  /** A producer for the source of a pipeline file: its redis section, its source, its message section. */
  static async fromPipeline<Body = unknown>(file: string, options: PipelineProducerOptions = {}): Promise<Producer<Body>> {
    const result = await loadPipelineFile(file, { env: options.env, importModules: false });
    if (!result.ok) throw new PipelineConfigError(result.issues);
    return Producer.forPipeline<Body>(result.pipeline, options);
  }

  /** The same, from a pipeline already loaded (loadPipelineFile, or a running Worker's pipelines). */
  static forPipeline<Body = unknown>(pipeline: LoadedPipeline, options: PipelineProducerOptions = {}): Producer<Body> {
    const { config, dir } = pipeline;
    const written =
      options.channel !== undefined && config.source.channel ? { kind: 'channel' as const, key: options.channel } : sourceTarget(config);
    if (written === undefined)
      throw new Error(`pipeline ${config.name} subscribes only to patterns: give the producer a channel to publish to`);
    // Trimming is the worker's job unless asked for (see ProducerOptions.trim).
    const target: Target = { ...written, maxLength: options.trim ? written.maxLength : 0 };
    registerRedisSecrets(config.redis, options.redisUrl);
    const plan = planConnection(config.redis, dir, config.name, options.redisUrl);
    const validate = options.validate === false ? undefined : bodyValidator(config.message, dir);
    return new Producer<Body>(plan, {
      target,
      tracing: options.tracing,
      envelope: envelopeNamed(options.envelope ?? config.message.envelope),
      format: config.message.format,
      maxBytes: config.message.max_bytes,
      validate,
      connectTimeoutMs: config.redis.connection_timeout_ms,
    });
  }

  /** A producer from inline options: a connection and a target, without a pipeline file. */
  static connect<Body = unknown>(options: InlineProducerOptions): Producer<Body> {
    const redis = redisSection(typeof options.redis === 'string' ? { url: options.redis } : (options.redis ?? {}));
    const t = options.target;
    const envelope = envelopeNamed(options.envelope ?? 'none');
    const target: Target =
      'list' in t
        ? { kind: 'list', key: t.list, push: pushEndFor(options.popFrom ?? (envelope.name === 'pythia' ? 'left' : 'right')) }
        : 'stream' in t
          ? { kind: 'stream', key: t.stream, maxLength: options.trim ? (t.maxLength ?? 0) : 0 }
          : { kind: 'channel', key: t.channel };
    const message = {
      format: options.format ?? 'json',
      max_bytes: options.maxBytes ?? 1_048_576,
      schema: options.schema ? path.resolve(options.schema) : '',
    } as const;
    registerRedisSecrets(redis);
    const plan = planConnection(redis, process.cwd(), options.name ?? 'producer');
    const validate = options.validate === false ? undefined : bodyValidator(message, process.cwd());
    return new Producer<Body>(plan, {
      target,
      tracing: options.tracing,
      envelope,
      format: message.format,
      maxBytes: message.max_bytes,
      validate,
      connectTimeoutMs: redis.connection_timeout_ms,
    });
  }

  /** Sends one message; resolves once Redis confirmed it. */
  async send(body: Body, options: SendOptions = {}): Promise<SendResult> {
    const [result] = await this.sendMany([{ ...options, body }]);
    return result as SendResult;
  }

  /**
   * Sends messages in order, pipelined (1000 per round trip): `sendMany(orders.map((body) => ({ body })))`.
   * Every body is encoded and validated before the first is sent: an invalid one sends nothing. A refused
   * write throws a ProduceError whose `sent` counts what Redis confirmed before it.
   */
  async sendMany(messages: readonly Outgoing<Body>[]): Promise<SendResult[]> {
    if (this.closed) throw new Error('the producer is closed');
    const tracer = this.settings.tracing ? await (this.tracer ??= producerTracer(this.settings.tracing)) : undefined;
    const prepared: Prepared[] = [];
    const results: SendResult[] = [];
    try {
      for (let index = 0; index < messages.length; index++) prepared.push(this.prepare(messages[index] as Outgoing<Body>, index, tracer));
      await this.connected();
      for (let start = 0; start < prepared.length; start += CHUNK) {
        const chunk = prepared.slice(start, start + CHUNK);
        results.push(...(await this.write(chunk, results.length)));
      }
    } catch (error) {
      // Spans of the messages not confirmed end as failed.
      for (const p of prepared.slice(results.length)) p.span?.end({ error });
      throw error;
    }
    for (let i = 0; i < prepared.length; i++) prepared[i]?.span?.end({ id: results[i]?.id });
    return results;
  }

  /** Closes the connection (waits for replies in flight). Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await closeClient(this.client);
  }

  private prepare(item: Outgoing<Body>, index: number, tracer: ProducerTracer | undefined): Prepared {
    const where = (text: string) => new InvalidBodyError(`message ${index + 1}: ${text}`);
    let bytes: Buffer;
    try {
      bytes = encodeBody(item.body, this.settings.format);
      this.settings.validate?.(bytes);
    } catch (error) {
      throw error instanceof InvalidBodyError ? where(error.message) : error;
    }
    const { target, envelope, format } = this.settings;
    const { kind } = target;
    const pythia = envelope.name === 'pythia';
    if (item.id !== undefined && kind !== 'stream' && !pythia)
      throw where(`an id applies to stream sources only (this is a ${kind}), or to envelope pythia's message_id`);
    if (item.priority && kind !== 'list') throw where(`priority applies to list sources only (this is a ${kind})`);
    const span = tracer?.start(target.key, item.headers, bytes.length);
    const headers = span?.headers ?? item.headers ?? {};
    const priority = item.priority === true;
    if (kind === 'stream') return { payload: envelope.toFields(bytes, headers), id: item.id ?? '*', span, priority };
    let payload: Buffer;
    try {
      payload = pythia ? wrapPythia(pythiaBody(bytes, format, where), headers, item.id) : nativeEnvelope.wrap(bytes, headers);
    } catch (error) {
      span?.end({ error });
      throw error;
    }
    if (this.settings.validate && payload.length > this.settings.maxBytes) {
      const error = where(`the body with its headers is ${payload.length} bytes, more than message.max_bytes ${this.settings.maxBytes}`);
      span?.end({ error });
      throw error;
    }
    return { payload, id: '', span, priority };
  }

  /** Waits for the connection, at most connection_timeout_ms: an unreachable Redis is an error, not a hang. */
  private async connected(): Promise<void> {
    if (this.client.status === 'ready') return;
    const ms = this.settings.connectTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve) => this.client.once('ready', () => resolve())),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new ProduceError(
                  `cannot reach Redis at ${this.plan.describe} within ${ms} ms${this.lastError ? ` (${this.lastError})` : ''}`,
                  0,
                ),
              ),
            ms,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async write(chunk: Prepared[], before: number): Promise<SendResult[]> {
    const { target } = this.settings;
    if (target.kind === 'list') return this.writeList(chunk, before);
    const pipe = this.client.pipeline();
    if (target.kind === 'stream') for (const c of chunk) pipe.call(...streamEntryCommand(target, c.payload as Buffer[], c.id));
    else
      queueWrites(
        pipe,
        target,
        chunk.map((c) => c.payload as Buffer),
      );
    const replies = await this.confirmed(pipe.exec(), before);
    const results: SendResult[] = [];
    const command = { stream: 'XADD', channel: 'PUBLISH' }[target.kind];
    for (const [error, reply] of replies) {
      if (error) throw new ProduceError(`Redis refused ${command} ${target.key}: ${scrubSecrets(error.message)}`, before + results.length);
      results.push(target.kind === 'stream' ? { id: String(reply) } : { receivers: Number(reply) });
    }
    return results;
  }

  /** One LPUSH or RPUSH per run of messages going to the same end (priority messages go to the other). */
  private async writeList(chunk: Prepared[], before: number): Promise<SendResult[]> {
    const { target } = this.settings;
    const normal = target.push === 'right' ? 'right' : 'left';
    const runs: { push: 'left' | 'right'; payloads: Buffer[] }[] = [];
    for (const c of chunk) {
      const push = c.priority ? (normal === 'right' ? 'left' : 'right') : normal;
      const last = runs[runs.length - 1];
      if (last && last.push === push) last.payloads.push(c.payload as Buffer);
      else runs.push({ push, payloads: [c.payload as Buffer] });
    }
    const pipe = this.client.pipeline();
    for (const run of runs) queueWrites(pipe, { ...target, push: run.push }, run.payloads);
    const replies = await this.confirmed(pipe.exec(), before);
    let sent = 0;
    for (const [i, run] of runs.entries()) {
      const error = replies[i]?.[0];
      const command = run.push === 'right' ? 'RPUSH' : 'LPUSH';
      if (error) throw new ProduceError(`Redis refused ${command} ${target.key}: ${scrubSecrets(error.message)}`, before + sent);
      sent += run.payloads.length;
    }
    return chunk.map(() => ({}));
  }

  /** The replies of a pipeline, or an error when they do not come within the connection timeout plus the socket timeout. */
  private async confirmed(exec: Promise<[Error | null, unknown][] | null>, before: number): Promise<[Error | null, unknown][]> {
    const ms = this.settings.connectTimeoutMs * 2;
    let timer: NodeJS.Timeout | undefined;
    try {
      const replies = await Promise.race([
        exec,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new ProduceError(
                  `Redis at ${this.plan.describe} did not confirm within ${ms} ms${this.lastError ? ` (${this.lastError})` : ''}; the unconfirmed messages may or may not have been written`,
                  before,
                ),
              ),
            ms,
          );
        }),
      ]);
      return replies ?? [];
    } finally {
      clearTimeout(timer);
    }
  }
}

let redisDefaults: ((section: Record<string, unknown>) => boolean) | undefined;

/** A `redis` section written inline, checked and completed with the schema's defaults, as in a file. */
function redisSection(section: Record<string, unknown>): PipelineConfig['redis'] {
  redisDefaults ??= new Ajv({ strict: false, useDefaults: true, allErrors: true }).compile(
    (pipelineSchema().properties as Record<string, object>).redis as object,
  );
  const copy = structuredClone(section);
  if (!redisDefaults(copy)) {
    const errors = (redisDefaults as unknown as { errors: { instancePath: string; message?: string }[] }).errors;
    throw new TypeError(`invalid redis options: ${errors.map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`).join('; ')}`);
  }
  return copy as PipelineConfig['redis'];
}
