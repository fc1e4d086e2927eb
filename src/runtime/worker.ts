import type { Logger } from 'pino';
import { loadPipelines, type LoadedPipeline } from '../config/index.ts';
import { createLogger } from './logger.ts';
import type { PipelineObserver } from './observer.ts';
import { RunningPipeline } from './pipeline.ts';

export interface WorkerOptions {
  logger?: Logger;
  /** Replaces every pipeline's connection settings. */
  redisUrl?: string;
  /** Builds the metrics observer of each pipeline (the metrics module provides one). */
  observerFor?: (pipeline: LoadedPipeline) => PipelineObserver;
}

/** Several pipelines in one process, each with its own connections. */
export class Worker {
  readonly pipelines: RunningPipeline[];
  private stopping: Promise<void> | undefined;

  private constructor(pipelines: RunningPipeline[]) {
    this.pipelines = pipelines;
  }

  static async start(loaded: readonly LoadedPipeline[], options: WorkerOptions = {}): Promise<Worker> {
    const logger = options.logger ?? createLogger();
    const pipelines = loaded.map((p) => new RunningPipeline(p, { logger, redisUrl: options.redisUrl, observer: options.observerFor?.(p) }));
    const worker = new Worker(pipelines);
    try {
      await Promise.all(pipelines.map((p) => p.start()));
    } catch (error) {
      await worker.stop(0);
      throw error;
    }
    return worker;
  }

  /** Every pipeline is consuming (for /readyz). */
  get ready(): boolean {
    return !this.stopping && this.pipelines.every((p) => p.state === 'consuming');
  }

  get draining(): boolean {
    return this.stopping !== undefined;
  }

  /** Graceful stop of every pipeline; each uses its own grace period unless one is given. Idempotent. */
  stop(graceMs?: number): Promise<void> {
    this.stopping ??= Promise.all(this.pipelines.map((p) => p.stop(graceMs))).then(() => undefined);
    return this.stopping;
  }
}

/** Loads, validates and starts pipelines from files or directories. Throws PipelineConfigError for bad files. */
export async function startWorker(paths: readonly string[], options: WorkerOptions = {}): Promise<Worker> {
  const loaded = await loadPipelines(paths);
  return Worker.start(loaded, options);
}
