import { createLogger, type LogLevel } from '../runtime/logger.ts';
import { PipelineReloader } from '../runtime/reload.ts';
import { superviseSignals } from '../runtime/supervisor.ts';
import { startWorker } from '../runtime/worker.ts';

export interface RunOptions {
  logLevel?: LogLevel;
  redisUrl?: string;
  /** Hot reload: watch the files and directories given (SIGHUP reloads with or without it). */
  watch?: boolean;
}

/** `pythia run FILE|DIR...`: every pipeline in one process until SIGTERM/SIGINT; exit 0 after a graceful stop. */
export async function runCommand(paths: string[], options: RunOptions): Promise<number> {
  const logger = createLogger(options.logLevel);
  // Pipelines start consuming inside startWorker, before superviseSignals is installed: a SIGTERM in
  // that window used to kill the process outright (default action), abandoning up to `concurrency`
  // handlers mid-message with no drain and no exit 0. A signal that arrives while starting is held
  // and re-raised once the supervisor listens, so it drains like any other.
  // (The holder is removed only after the supervisor listens: dropping a signal's last listener closes
  // its watcher, and a signal already caught but not yet dispatched would be swallowed.)
  let early: NodeJS.Signals | undefined;
  let supervising = false;
  // Start-up can wait indefinitely (Redis unreachable: connections retry until it answers), so a
  // second signal while starting exits at once, as it does after start-up.
  const hold = (signal: NodeJS.Signals) => {
    if (supervising) return;
    if (early) {
      logger.warn({ signal }, 'second signal while starting: exiting now; unfinished messages stay recoverable in Redis');
      logger.flush();
      process.exit(130);
    }
    early = signal;
    logger.info({ signal }, 'signal received while starting: the worker drains as soon as it has started (a second signal exits now)');
  };
  const release = () => {
    process.off('SIGTERM', hold);
    process.off('SIGINT', hold);
  };
  process.on('SIGTERM', hold);
  process.on('SIGINT', hold);
  const worker = await startWorker(paths, { logger, redisUrl: options.redisUrl, metrics: true }).catch((error: unknown) => {
    release();
    throw error;
  });
  const server = worker.metricsServer;
  logger.info({ pipelines: worker.pipelines.map((p) => p.name), metrics: server ? `${server.url}${server.path}` : 'disabled' }, 'worker running');
  const reloader = new PipelineReloader(worker, paths, { logger });
  if (options.watch) reloader.watch();
  const onHangup = () => void reloader.reloadAll();
  process.on('SIGHUP', onHangup);
  const supervised = superviseSignals(worker, logger, async () => {
    process.off('SIGHUP', onHangup);
    await reloader.close();
  });
  supervising = true;
  release();
  if (early) process.kill(process.pid, early);
  const code = await supervised;
  logger.info('worker stopped');
  logger.flush();
  // Handlers abandoned after the grace period may still hold timers: they must not keep the process up.
  setTimeout(() => process.exit(code), 200).unref();
  return code;
}
