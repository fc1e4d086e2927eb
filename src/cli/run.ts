import { createLogger, type LogLevel } from '../runtime/logger.ts';
import { superviseSignals } from '../runtime/supervisor.ts';
import { startWorker } from '../runtime/worker.ts';

export interface RunOptions {
  logLevel?: LogLevel;
  redisUrl?: string;
}

/** `pythia run FILE|DIR...`: every pipeline in one process until SIGTERM/SIGINT; exit 0 after a graceful stop. */
export async function runCommand(paths: string[], options: RunOptions): Promise<number> {
  const logger = createLogger(options.logLevel);
  const worker = await startWorker(paths, { logger, redisUrl: options.redisUrl, metrics: true });
  const server = worker.metricsServer;
  logger.info({ pipelines: worker.pipelines.map((p) => p.name), metrics: server ? `${server.url}${server.path}` : 'disabled' }, 'worker running');
  const code = await superviseSignals(worker, logger);
  logger.info('worker stopped');
  logger.flush();
  // Handlers abandoned after the grace period may still hold timers: they must not keep the process up.
  setTimeout(() => process.exit(code), 200).unref();
  return code;
}
