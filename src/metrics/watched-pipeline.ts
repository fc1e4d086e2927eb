import type { LoadedPipeline } from '../config/index.ts';
import type { RedisClient } from '../redis/connection.ts';

/**
 * What metrics read from a running pipeline, and nothing more: the runtime's RunningPipeline satisfies
 * it, so metrics observe the runtime without importing it.
 */
export interface WatchedPipeline {
  readonly name: string;
  /** starting, consuming, draining or stopped. */
  readonly state: string;
  readonly loaded: LoadedPipeline;
  /** Every Redis connection the pipeline holds. */
  readonly connections: readonly RedisClient[];
  /** The connection gauges are sampled on. */
  readonly pool: { readonly primary: RedisClient };
  readonly source: {
    readonly kind: 'list' | 'stream' | 'channel';
    /** The list or stream key (undefined for channels). */
    readonly key: string | undefined;
    /** Messages the source itself dropped (pub/sub buffer overflow), since it started. */
    dropped(): number;
  };
}

/** What readiness looks at: the worker's pipelines and whether it is draining. */
export interface ObservedWorker {
  readonly pipelines: readonly WatchedPipeline[];
  readonly draining: boolean;
}
