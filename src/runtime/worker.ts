import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { formatIssue, loadPipelines, type LoadedPipeline } from '../config/index.ts';
import { Observability, type MetricsServer } from '../metrics/index.ts';
import { emittingObserver, type WorkerEvents, type WorkerListeners } from './events.ts';
import { createLogger } from './logger.ts';
import type { PipelineObserver } from '../metrics/pipeline-observer.ts';
import { RunningPipeline } from './pipeline.ts';
import { WorkerReporter } from './worker-reporter.ts';

export interface WorkerOptions {
  logger?: Logger;
  /** Replaces every pipeline's connection settings. */
  redisUrl?: string;
  /** Builds the metrics observer of each pipeline (the metrics module provides one). */
  observerFor?: (pipeline: LoadedPipeline) => PipelineObserver;
  /**
   * Serve metrics.path, /livez and /readyz on metrics.host:port and sample the Redis gauges, for the
   * pipelines with metrics.enabled. Off by default for library use and tests (two workers would
   * compete for port 9464); `pythia run` turns it on.
   */
  metrics?: boolean;
  /** Write this process's worker record to Redis for `pythia console` (worker-reporter.ts). `pythia run` turns it on. */
  report?: boolean;
  /** Called with the worker once it exists, before its pipelines start (`pythia run`'s signal supervisor watches start-up). */
  onCreated?: (worker: Worker) => void;
  /** startWorker: warnings in a pipeline file (logged otherwise) stop the start as errors do. */
  strict?: boolean;
  /** Listeners attached before start-up, so that `ready` (and anything during start-up) is not missed. */
  on?: WorkerListeners;
}

/**
 * Several pipelines in one process, each with its own connections: what `pythia run` runs, and what an
 * application embeds (see docs/embedding.md). Events: see WorkerEvents.
 */
export class Worker extends EventEmitter<WorkerEvents> {
  readonly pipelines: RunningPipeline[];
  /** Registry, gauges and HTTP server (with `metrics: true` and a pipeline that enables metrics). */
  readonly observability: Observability | undefined;
  readonly reporter: WorkerReporter | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(
    pipelines: RunningPipeline[],
    observability: Observability | undefined,
    private readonly runtime: {
      logger: Logger;
      redisUrl?: string;
      observerFor?: WorkerOptions['observerFor'];
      beforeClose?: (p: RunningPipeline) => Promise<void>;
    },
    reporter?: WorkerReporter,
  ) {
    super();
    this.pipelines = pipelines;
    this.observability = observability;
    this.reporter = reporter;
  }

  /** The observer of one pipeline: its metrics (or the one options.observerFor gives), and this worker's events. */
  private observerOf(loaded: LoadedPipeline): PipelineObserver {
    const { logger, observerFor } = this.runtime;
    const inner = observerFor?.(loaded) ?? this.observability?.observerFor(loaded);
    return emittingObserver(loaded.config.name, this, inner, (error) =>
      logger.error({ err: error, pipeline: loaded.config.name }, 'a worker event listener threw; ignored'),
    );
  }

  /** The HTTP server of /metrics, /livez, /readyz; `.port` is the bound port (useful with metrics.port 0). */
  get metricsServer(): MetricsServer | undefined {
    return this.observability?.server;
  }

  static async start(loaded: readonly LoadedPipeline[], options: WorkerOptions = {}): Promise<Worker> {
    const logger = options.logger ?? createLogger();
    const observability = options.metrics ? Observability.forPipelines(loaded, logger) : undefined;
    const pipelines: RunningPipeline[] = [];
    const reporter = options.report ? new WorkerReporter(() => pipelines, { logger }) : undefined;
    const observerFor = reporter
      ? (p: LoadedPipeline) => reporter.observe(p.config.name, options.observerFor?.(p) ?? observability?.observerFor(p))
      : options.observerFor;
    const worker = new Worker(
      pipelines,
      observability,
      { logger, redisUrl: options.redisUrl, observerFor, beforeClose: reporter?.retire },
      reporter,
    );
    for (const [event, listener] of Object.entries(options.on ?? {}))
      if (listener) worker.on(event as keyof WorkerEvents, listener as never);
    pipelines.push(
      ...loaded.map(
        (p) =>
          new RunningPipeline(p, { logger, redisUrl: options.redisUrl, observer: worker.observerOf(p), beforeClose: reporter?.retire }),
      ),
    );
    options.onCreated?.(worker);
    try {
      // Listening first: /livez answers and /readyz says 503 while the pipelines start.
      await observability?.listen(worker);
      await Promise.all(pipelines.map((p) => p.start().then(() => observability?.watch(p))));
      reporter?.start();
    } catch (error) {
      await worker.stop(0);
      throw error;
    }
    worker.emitSafely('ready');
    return worker;
  }

  /** Every pipeline is consuming (for /readyz). */
  get ready(): boolean {
    return !this.stopping && this.pipelines.every((p) => p.state === 'consuming');
  }

  get draining(): boolean {
    return this.stopping !== undefined;
  }

  /**
   * Starts one more pipeline in this process (hot reload: a new file). Counters reuse the pipeline's
   * observer by name. Throws when the worker is stopping.
   */
  async addPipeline(loaded: LoadedPipeline): Promise<RunningPipeline> {
    if (this.stopping) throw new Error('the worker is stopping');
    const { logger, redisUrl, beforeClose } = this.runtime;
    const pipeline = new RunningPipeline(loaded, { logger, redisUrl, observer: this.observerOf(loaded), beforeClose });
    this.pipelines.push(pipeline);
    try {
      await pipeline.start();
      this.observability?.watch(pipeline);
    } catch (error) {
      this.pipelines.splice(this.pipelines.indexOf(pipeline), 1);
      await pipeline.stop(0);
      throw error;
    }
    return pipeline;
  }

  /** Graceful stop (drain) of one pipeline; the others keep running (hot reload: a removed file). */
  async removePipeline(pipeline: RunningPipeline, graceMs?: number): Promise<void> {
    this.observability?.unwatch(pipeline);
    await pipeline.stop(graceMs);
    const index = this.pipelines.indexOf(pipeline);
    if (index >= 0 && !this.stopping) this.pipelines.splice(index, 1);
  }

  /** Drains `old`, then starts `loaded` in its place (hot reload: a changed file). */
  async replacePipeline(old: RunningPipeline, loaded: LoadedPipeline): Promise<RunningPipeline> {
    await this.removePipeline(old);
    return this.addPipeline(loaded);
  }

  /**
   * Drains, then stops: no new messages are fetched; in-flight ones get `graceMs` (default: each
   * pipeline's shutdown.grace_period_ms) to finish and be acknowledged; what is still running then is
   * abandoned and stays recoverable in Redis (see docs/delivery-guarantees.md). Idempotent.
   */
  stop(graceMs?: number): Promise<void> {
    if (this.stopping) return this.stopping;
    // Gauges stop before the pools close; the server answers (503 on /readyz) until every pipeline stopped.
    this.observability?.stopSampling();
    this.reporter?.markDraining();
    this.emitSafely('draining');
    this.stopping = Promise.all(this.pipelines.map((p) => p.stop(graceMs)))
      .then(() => {
        this.reporter?.stop();
        return this.observability?.close();
      })
      .then(() => this.emitSafely('stopped'));
    return this.stopping;
  }

  private emitSafely(event: 'ready' | 'draining' | 'stopped'): void {
    try {
      this.emit(event);
    } catch (error) {
      this.runtime.logger.error({ err: error }, 'a worker event listener threw; ignored');
    }
  }
}

/** Loads, validates and starts pipelines from files or directories. Throws PipelineConfigError for bad files. */
export async function startWorker(paths: readonly string[], options: WorkerOptions = {}): Promise<Worker> {
  const logger = options.logger ?? createLogger();
  const loaded = await loadPipelines(paths, {
    strict: options.strict,
    onWarning: (issue) => logger.warn({ file: issue.file, line: issue.line, col: issue.col, pointer: issue.pointer }, formatIssue(issue)),
  });
  return Worker.start(loaded, { ...options, logger });
}
