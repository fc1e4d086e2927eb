import type { Logger } from 'pino';
import type { LoadedPipeline, PipelineConfig } from '../config/index.ts';
import { sourceLabel } from '../config/targets.ts';
import { MetricsObserver } from './observer.ts';
import { RedisGaugeSampler } from './redis-gauges.ts';
import { PythiaMetrics } from './registry.ts';
import { MetricsServer, type HealthReport } from './server.ts';
import type { PipelineObserver } from './pipeline-observer.ts';
import type { ObservedWorker, WatchedPipeline } from './watched-pipeline.ts';

export { MetricsObserver } from './observer.ts';
export { connectionState, RedisGaugeSampler } from './redis-gauges.ts';
export { CONNECTION_STATES, DURATION_BUCKETS, OUTCOMES, PythiaMetrics } from './registry.ts';
export { MetricsServer, type HealthReport, type MetricsServerOptions } from './server.ts';

export type { ObservedWorker, WatchedPipeline } from './watched-pipeline.ts';
export { NO_OBSERVER, type Outcome, type PipelineObserver } from './pipeline-observer.ts';

/** Ready: not draining, every pipeline consuming, every one of their Redis connections up. */
export function healthOf(worker: ObservedWorker): HealthReport {
  const pipelines = worker.pipelines.map((p) => ({
    name: p.name,
    state: p.state,
    redis: p.connections.every((c) => c.status === 'ready') ? ('connected' as const) : ('disconnected' as const),
  }));
  const ready = !worker.draining && pipelines.length > 0 && pipelines.every((p) => p.state === 'consuming' && p.redis === 'connected');
  return { ready, draining: worker.draining, pipelines };
}

/**
 * Everything observable about one process: the registry, each pipeline's observer and Redis
 * gauges, and the one HTTP server. The server's address comes from the first pipeline that enables
 * metrics (validation makes every enabled pipeline agree); pipelines with metrics.enabled: false
 * are neither counted nor sampled, but still count for /readyz.
 */
export class Observability {
  readonly metrics: PythiaMetrics;
  server: MetricsServer | undefined;
  private readonly observers = new Map<string, MetricsObserver>();
  /** Per watched pipeline: its gauge sampler and what to undo when it goes (hot reload). */
  private readonly watched = new Map<WatchedPipeline, { sampler: RedisGaugeSampler; removeHook?: () => void }>();

  constructor(
    readonly settings: PipelineConfig['metrics'],
    private readonly logger: Logger,
    metrics?: PythiaMetrics,
  ) {
    this.metrics = metrics ?? new PythiaMetrics();
  }

  /** undefined when no pipeline enables metrics. */
  static forPipelines(loaded: readonly LoadedPipeline[], logger: Logger, metrics?: PythiaMetrics): Observability | undefined {
    const settings = loaded.find((p) => p.config.metrics.enabled)?.config.metrics;
    return settings ? new Observability(settings, logger, metrics) : undefined;
  }

  observerFor(pipeline: LoadedPipeline): PipelineObserver | undefined {
    const { name, metrics } = pipeline.config;
    if (!metrics.enabled) return undefined;
    let observer = this.observers.get(name);
    if (!observer) {
      observer = new MetricsObserver(this.metrics, name, sourceLabel(pipeline.config));
      this.observers.set(name, observer);
    }
    return observer;
  }

  /** Starts the HTTP server; /readyz answers 503 until `worker` is ready. */
  async listen(worker: ObservedWorker): Promise<MetricsServer> {
    const { host, port, path } = this.settings;
    const server = new MetricsServer({
      host,
      port,
      path,
      scrape: () => this.metrics.scrape(),
      contentType: this.metrics.contentType,
      health: () => healthOf(worker),
    });
    await server.listen();
    this.server = server;
    this.logger.info({ host, port: server.port, path, endpoint: `${server.url}${path}` }, 'metrics server listening');
    return server;
  }

  /** Starts sampling the Redis gauges of a pipeline and pulling its source's drop count. */
  watch(pipeline: WatchedPipeline): void {
    const { config } = pipeline.loaded;
    if (!config.metrics.enabled || this.watched.has(pipeline)) return;
    const observer = this.observers.get(pipeline.name);
    let removeHook: (() => void) | undefined;
    if (observer) {
      let seen = 0;
      const pullDropped = () => {
        const dropped = pipeline.source.dropped();
        observer.addDropped(dropped - seen);
        seen = dropped;
      };
      const remove = this.metrics.onScrape('messages', pullDropped);
      // Drops since the last scrape are counted before the hook goes.
      removeHook = () => {
        pullDropped();
        remove();
      };
    }
    const logger = this.logger.child({ pipeline: pipeline.name, source: sourceLabel(pipeline.loaded.config), component: 'metrics' });
    const sampler = new RedisGaugeSampler(this.metrics, pipeline, config.metrics.redis, logger);
    this.watched.set(pipeline, { sampler, removeHook });
    sampler.start();
  }

  /** A pipeline leaves the process (hot reload): its gauges stop and their series go. Counters stay. */
  unwatch(pipeline: WatchedPipeline): void {
    const entry = this.watched.get(pipeline);
    if (!entry) return;
    this.watched.delete(pipeline);
    entry.sampler.stop();
    entry.sampler.forget();
    entry.removeHook?.();
  }

  stopSampling(): void {
    for (const { sampler } of this.watched.values()) sampler.stop();
  }

  async close(): Promise<void> {
    this.stopSampling();
    await this.server?.close();
  }
}
