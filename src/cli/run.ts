import type { Logger } from 'pino';
import { formatIssue, PipelineConfigError } from '../config/index.ts';
import { createLogger, resolveLogFormat, type LogLevel } from '../runtime/logger.ts';
import { EXIT } from './exit-codes.ts';
import { PipelineReloader } from '../runtime/reload.ts';
import { SignalSupervisor } from '../runtime/supervisor.ts';
import { startWorker } from '../runtime/worker.ts';

export interface RunOptions {
  logLevel?: LogLevel;
  redisUrl?: string;
  /** Hot reload: watch the files and directories given (SIGHUP reloads with or without it). */
  watch?: boolean;
  /** Warnings in pipeline files are errors: the worker does not start (and a reload is rejected). */
  strict?: boolean;
}

/** `pythia run FILE|DIR...`: every pipeline in one process until SIGTERM/SIGINT; exit 0 after a graceful stop. */
export async function runCommand(paths: string[], options: RunOptions): Promise<number> {
  const logger = createLogger(options.logLevel);
  // Installed before start-up: pipelines consume while startWorker is still running (supervisor.ts).
  const signals = new SignalSupervisor(logger);
  const worker = await startWorker(paths, {
    logger,
    redisUrl: options.redisUrl,
    metrics: true,
    report: true,
    strict: options.strict,
    onCreated: (created) => signals.watchStartup(created),
  }).catch((error: unknown) => {
    signals.dispose();
    if (!(error instanceof PipelineConfigError) || resolveLogFormat() !== 'json') throw error;
    logConfigErrors(logger, error);
    return undefined;
  });
  if (worker === undefined) return EXIT.failure;
  const server = worker.metricsServer;
  logger.info(
    { pipelines: worker.pipelines.map((p) => p.name), metrics: server ? `${server.url}${server.path}` : 'disabled' },
    'worker running',
  );
  const reloader = new PipelineReloader(worker, paths, { logger, strict: options.strict });
  if (options.watch) reloader.watch();
  const onHangup = () => void reloader.reloadAll();
  process.on('SIGHUP', onHangup);
  const code = await signals.supervise(worker, async () => {
    process.off('SIGHUP', onHangup);
    await reloader.close();
  });
  logger.info('worker stopped');
  logger.flush();
  // Handlers abandoned after the grace period may still hold timers: they must not keep the process up.
  setTimeout(() => process.exit(code), 200).unref();
  return code;
}

/**
 * With JSON logs, start-up config errors are log records too (one per issue, located), so a log
 * collector sees why the worker never started; with pretty logs the entry point prints them as lines.
 */
function logConfigErrors(logger: Logger, error: PipelineConfigError): void {
  for (const issue of error.issues)
    logger.error({ file: issue.file, line: issue.line, col: issue.col, pointer: issue.pointer }, formatIssue(issue));
  logger.flush();
}
