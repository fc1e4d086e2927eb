import type { Logger } from 'pino';
import type { LoadedPipeline } from '../config/index.ts';
import { deadLetterTarget, outputTarget, sourceLabel } from '../config/targets.ts';
import { createHandlerRunner } from '../handlers/index.ts';
import type { HandlerRunner } from '../handlers/runner.ts';
import { DeadLetterWriter } from '../outputs/dead-letter.ts';
import { createWriter, resultSerializer } from '../outputs/writer.ts';
import { envelopeNamed } from '../redis/envelopes.ts';
import { planConnection, type RedisClient } from '../redis/connection.ts';
import { ConnectionPool } from '../redis/pool.ts';
import { registerRedisSecrets, scrubSecrets } from '../redis/redact.ts';
import { withScripts } from '../redis/scripts.ts';
import { ChannelSource } from '../sources/channel.ts';
import { ListSource } from '../sources/list.ts';
import type { Source } from '../sources/source.ts';
import { StreamSource } from '../sources/stream.ts';
import { createDecoder, createOpener } from './decode.ts';
import { Dispatcher } from './dispatcher.ts';
import { NO_OBSERVER, type PipelineObserver } from '../metrics/pipeline-observer.ts';
import { dispatcherOptions } from './dispatcher-options.ts';
import { createTracer, NO_TRACER, type PipelineTracer } from '../tracing/index.ts';

/** At shutdown, spans still buffered get this long to be exported (a collector that is down costs no more). */
const TRACE_FLUSH_MS = 5000;
import { createOrdering, createPermits, type OrderingGate } from '../flow/index.ts';
import type { Work } from './attempt.ts';

export interface PipelineOptions {
  logger: Logger;
  observer?: PipelineObserver;
  /** Replaces the file's connection settings (used by `pythia demo` and tests). */
  redisUrl?: string;
  /** Runs after the drain, before the connections close (the worker report deletes its record there). */
  beforeClose?: (pipeline: RunningPipeline) => Promise<void>;
}

export type PipelineState = 'starting' | 'consuming' | 'draining' | 'stopped';

/** One live pipeline: its connections, source, handler and dispatcher. */
export class RunningPipeline {
  readonly name: string;
  state: PipelineState = 'starting';
  readonly pool: ConnectionPool;
  readonly source: Source;
  /** The source as the dispatcher sees it: wrapped by `ordering` when the pipeline has one. */
  private readonly flowSource: Source;
  private readonly ordering: OrderingGate<Work> | undefined;
  readonly deadLetter: DeadLetterWriter;
  private dispatcher: Dispatcher | undefined;
  private handler: HandlerRunner | undefined;
  private tracer: PipelineTracer = NO_TRACER;
  private readonly logger: Logger;
  private readonly observer: PipelineObserver;
  private stopping: Promise<void> | undefined;
  private readonly reader: RedisClient;
  private readonly beforeClose: PipelineOptions['beforeClose'];

  constructor(
    readonly loaded: LoadedPipeline,
    options: PipelineOptions,
  ) {
    this.beforeClose = options.beforeClose;
    const { config, dir } = loaded;
    this.name = config.name;
    this.observer = options.observer ?? NO_OBSERVER;
    registerRedisSecrets(config.redis, options.redisUrl);
    const plan = planConnection(config.redis, dir, config.name, options.redisUrl);
    this.logger = options.logger.child({ pipeline: config.name, source: sourceLabel(config) });
    let lastError = '';
    const onError = (error: Error) => {
      const text = scrubSecrets(error.message);
      if (text !== lastError) this.logger.warn({ server: plan.describe, err: error }, 'redis connection error');
      lastError = text;
    };
    this.pool = new ConnectionPool(plan, config.redis.connection_pool_size, onError);
    this.pool.startHealthChecks(config.redis.health_check_interval_s, onError);
    const { list, stream, channel } = config.source;
    const blockMs = list?.block_timeout_ms ?? stream?.block_timeout_ms ?? 0;
    this.reader = plan.create(channel ? 'subscriber' : 'reader', { blocking: true, blockMs, subscriber: Boolean(channel) });
    this.reader.on('error', onError);
    if (list) this.source = new ListSource(list, withScripts(this.reader), this.pool, this.logger, config.message.max_bytes);
    else if (stream) this.source = new StreamSource(stream, withScripts(this.reader), this.pool, this.logger, config.message.max_bytes);
    else this.source = new ChannelSource(channel as NonNullable<typeof channel>, this.reader, this.logger);
    this.deadLetter = new DeadLetterWriter(config.name, deadLetterTarget(config), this.pool);
    this.ordering = createOrdering<Work>(config, this.pool, createOpener(config.message.max_bytes), this.logger);
    this.flowSource = this.ordering ? this.ordering.wrap(this.source) : this.source;
  }

  async start(): Promise<void> {
    const { config, dir } = this.loaded;
    this.tracer = await createTracer({
      pipeline: config.name,
      consumerGroup: config.source.stream?.consumer_group,
      tracing: config.tracing,
      logger: this.logger,
    });
    this.handler = await createHandlerRunner(config, dir, this.logger);
    await this.flowSource.start();
    const out = outputTarget(config);
    this.dispatcher = new Dispatcher({
      options: dispatcherOptions(config),
      source: this.flowSource,
      handler: this.handler,
      open: createOpener(config.message.max_bytes, envelopeNamed(config.message.envelope)),
      decode: createDecoder(config.message, dir),
      output: out ? createWriter(out, this.pool) : undefined,
      serialize: resultSerializer(out, config.output.envelope),
      deadLetter: this.deadLetter,
      logger: this.logger,
      observer: this.observer,
      tracer: this.tracer,
      flow: {
        permits: createPermits(config, this.pool, { onWait: (seconds) => this.observer.rateLimitWait?.(seconds), logger: this.logger }),
        ordering: this.ordering,
      },
    });
    this.dispatcher.start();
    this.state = 'consuming';
    this.logger.info({ concurrency: config.concurrency, deadLetter: this.deadLetter.target.key }, 'pipeline consuming');
  }

  /** Every Redis connection of this pipeline: the blocking reader (or subscriber), then the pool. */
  get connections(): readonly RedisClient[] {
    return [this.reader, ...this.pool.clients];
  }

  get inFlight(): number {
    return this.dispatcher?.inFlight ?? 0;
  }

  get breakerState(): string {
    return this.dispatcher?.breaker.state ?? 'closed';
  }

  /** Graceful: stop fetching, finish in-flight work within the grace period, flush acks, close. Idempotent. */
  stop(graceMs = this.loaded.config.shutdown.grace_period_ms): Promise<void> {
    this.stopping ??= this.doStop(graceMs);
    return this.stopping;
  }

  private async doStop(graceMs: number): Promise<void> {
    this.state = 'draining';
    this.logger.info({ graceMs, inFlight: this.inFlight }, 'draining');
    const unfinished = this.dispatcher ? await this.dispatcher.stop(graceMs) : [];
    if (!this.dispatcher) this.flowSource.interrupt();
    try {
      await this.flowSource.close(unfinished);
    } catch (error) {
      this.logger.error({ err: error }, 'closing the source failed; unfinished messages stay recoverable');
    }
    await this.handler?.close();
    await this.tracer.shutdown(TRACE_FLUSH_MS);
    await this.beforeClose?.(this).catch(() => undefined);
    await this.pool.close();
    this.state = 'stopped';
    this.logger.info({ unfinished: unfinished.length }, 'pipeline stopped');
  }
}
