import type { Logger } from 'pino';
import type { PipelineConfig } from '../config/index.ts';
import { createModuleRunner } from './module.ts';
import type { HandlerRunner } from './runner.ts';

/** Builds the handler a pipeline names: a module function or a command. */
export async function createHandlerRunner(config: PipelineConfig, baseDir: string, logger: Logger): Promise<HandlerRunner> {
  const { handler } = config;
  if (handler.module !== undefined) return createModuleRunner(baseDir, handler.module, handler.export, handler.batch !== undefined);
  const { createCommandRunner } = await import('./command.ts');
  return createCommandRunner(config, baseDir, logger);
}
