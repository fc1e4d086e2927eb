import type { Logger } from 'pino';
import type { PipelineConfig } from '../config/index.ts';
import type { HandlerRunner } from './runner.ts';

/** Command handlers (execa): not implemented yet; see the command-handler issue. */
export async function createCommandRunner(_config: PipelineConfig, _baseDir: string, _logger: Logger): Promise<HandlerRunner> {
  throw new Error('command handlers are not implemented yet: use handler.module');
}
