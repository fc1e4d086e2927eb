import type { PipelineConfig } from '../config/index.ts';
import { deadLetterTarget, outputTarget } from '../config/targets.ts';
import type { BackoffPolicy } from '../resilience/backoff.ts';
import type { BreakerSettings } from '../resilience/circuit-breaker.ts';
import type { BatchSettings } from './batcher.ts';

/** What the dispatcher needs from a pipeline's configuration, and nothing source-specific. */
export interface DispatcherOptions {
  /** The pipeline's name (in handler contexts and log lines). */
  pipeline: string;
  /** Messages handled at once. */
  concurrency: number;
  /** Most deliveries asked of the source in one fetch. */
  batchSize: number;
  processingTimeoutMs: number;
  /** Retries after the first attempt before a message is dead-lettered. */
  maxRetries: number;
  backoff: BackoffPolicy;
  circuitBreaker: BreakerSettings;
  /** A delivery handed out more often than `limit` is dead-lettered; `setting` names the key in its error. */
  maxDeliveries: { limit: number; setting: string } | undefined;
  /** message.max_bytes (named in the error of a payload the source left in Redis for being larger). */
  maxBytes: number;
  /** handler.batch; absent: one handler call per message. */
  batch?: BatchSettings;
  /** The output and dead-letter keys (the names of their write spans when tracing is on). */
  outputKey: string;
  deadLetterKey: string;
}

export function dispatcherOptions(config: PipelineConfig): DispatcherOptions {
  const { list, stream } = config.source;
  const { resilience } = config;
  return {
    pipeline: config.name,
    concurrency: config.concurrency,
    batchSize: (list ?? stream)?.batch_size ?? config.concurrency,
    processingTimeoutMs: resilience.processing_timeout_ms,
    maxRetries: resilience.max_retries,
    backoff: resilience,
    circuitBreaker: resilience.circuit_breaker,
    maxDeliveries: maxDeliveries(config.source),
    maxBytes: config.message.max_bytes,
    batch: batchSettings(config.handler.batch),
    outputKey: outputTarget(config)?.key ?? '',
    deadLetterKey: deadLetterTarget(config).key,
  };
}

/** Streams count deliveries in the group; at-least-once lists count recoveries from crashed consumers. */
function maxDeliveries({ list, stream }: PipelineConfig['source']): DispatcherOptions['maxDeliveries'] {
  if (stream) return { limit: stream.max_deliveries, setting: 'source.stream.max_deliveries' };
  if (list?.delivery === 'at-least-once') return { limit: list.max_deliveries, setting: 'source.list.max_deliveries' };
  return undefined;
}

function batchSettings(batch: PipelineConfig['handler']['batch']): BatchSettings | undefined {
  return batch && { maxSize: batch.max_size, maxWaitMs: batch.max_wait_ms };
}
