export { formatIssue, isWarning, PipelineConfigError, type ConfigIssue } from './errors.ts';
export {
  checkTogether,
  expandPipelinePaths,
  loadPipelineFile,
  loadPipelines,
  loadPipelineText,
  type LoadedPipeline,
  type LoadOptions,
  type LoadResult,
} from './load.ts';
export type { PipelineConfig, PipelineFile } from './pipeline.types.ts';
export { pipelineSchema, schemaPath } from './schema.ts';
