export { PermanentError, TimeoutError } from './errors.ts';
export type { BatchHandler, Handler, HandlerContext, Message, MessageOrigin } from './handlers/types.ts';
export {
  formatIssue,
  loadPipelineFile,
  loadPipelines,
  PipelineConfigError,
  type ConfigIssue,
  type LoadedPipeline,
  type PipelineConfig,
  type PipelineFile,
} from './config/index.ts';
export { startWorker, Worker, type WorkerOptions } from './runtime/worker.ts';
export type { MessageEvent, WorkerEvents, WorkerListeners } from './runtime/events.ts';
export type { RunningPipeline, PipelineState } from './runtime/pipeline.ts';
export type { DeadLetterEntry, DeadLetterReason } from './outputs/dead-letter.ts';
export type { BreakerState } from './resilience/circuit-breaker.ts';
export { createLogger, type LogLevel } from './runtime/logger.ts';
export {
  InvalidBodyError,
  ProduceError,
  Producer,
  type InlineProducerOptions,
  type Outgoing,
  type PipelineProducerOptions,
  type ProducerOptions,
  type ProducerTarget,
  type SendOptions,
  type SendResult,
} from './producer/producer.ts';
export type { Headers } from './redis/envelope.ts';
