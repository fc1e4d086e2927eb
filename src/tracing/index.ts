import type { PipelineConfig } from '../config/index.ts';
import { NO_TRACER, type PipelineTracer, type TracingSettings } from './types.ts';

export { NO_ATTEMPT_TRACE, NO_BATCH_TRACE, NO_TRACER } from './types.ts';
export type {
  AttemptOutcome,
  AttemptTrace,
  BatchTrace,
  PipelineTracer,
  TracedBatchMember,
  TracedMessage,
  TracingSettings,
  WriteSpan,
} from './types.ts';

/** On when tracing.enabled, unless OTEL_SDK_DISABLED=true (the OpenTelemetry switch for every SDK). */
export function tracingEnabled(tracing: PipelineConfig['tracing'] | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  return tracing?.enabled === true && env.OTEL_SDK_DISABLED?.trim().toLowerCase() !== 'true';
}

/**
 * The pipeline's tracer: the no-op one when tracing is off (nothing of OpenTelemetry is loaded), else
 * the OpenTelemetry one, imported now (the no-op one, with an error logged, if that fails).
 */
export async function createTracer(settings: TracingSettings): Promise<PipelineTracer> {
  if (!tracingEnabled(settings.tracing, settings.env)) return NO_TRACER;
  try {
    const { createOtelTracer } = await import('./otel-tracer.ts');
    return await createOtelTracer(settings);
  } catch (error) {
    // Tracing is an aid: the pipeline processes its messages without it rather than not at all.
    settings.logger.error({ err: error }, 'tracing could not be set up; the pipeline runs without it');
    return NO_TRACER;
  }
}
