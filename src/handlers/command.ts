import type { Logger } from 'pino';
import type { PipelineConfig } from '../config/index.ts';
import { commandSpec } from './child-process.ts';
import { PerMessageRunner } from './per-message.ts';
import type { HandlerRunner } from './runner.ts';

/**
 * Command handlers (docs/command-handlers.md): any executable, one process per message (per-message.ts) or
 * long-lived JSON-lines processes (persistent.ts). Process code both share is in child-process.ts.
 */

/** Builds the runner for handler.command: per-message (default) or persistent. */
export async function createCommandRunner(config: PipelineConfig, baseDir: string, logger: Logger): Promise<HandlerRunner> {
  const spec = commandSpec(config, baseDir);
  if (config.handler.mode === 'persistent') {
    const { PersistentRunner } = await import('./persistent.ts');
    const runner = new PersistentRunner(
      spec,
      { instances: config.handler.instances ?? 1, stuckAfterMs: config.resilience.processing_timeout_ms },
      logger,
    );
    runner.start();
    return runner;
  }
  return new PerMessageRunner(spec, logger);
}
