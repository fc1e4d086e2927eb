export { PermanentError, TimeoutError } from './errors.ts';
export type { Handler, HandlerContext, Message, MessageOrigin } from './handlers/types.ts';
export { formatIssue, loadPipelineFile, loadPipelines, PipelineConfigError, type ConfigIssue, type LoadedPipeline, type PipelineConfig, type PipelineFile } from './config/index.ts';
