import type { Logger } from 'pino';
import type { Worker } from './worker.ts';

/**
 * SIGTERM/SIGINT: stop fetching, let in-flight messages finish within the grace period, flush acks,
 * close connections, resolve with exit code 0. A second signal exits at once (code 130).
 */
export function superviseSignals(worker: Worker, logger: Logger, onStopped?: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    let signals = 0;
    const handle = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: exiting now; unfinished messages stay recoverable in Redis');
        logger.flush?.();
        process.exit(130);
      }
      logger.info({ signal }, 'shutting down gracefully');
      worker
        .stop()
        .then(() => onStopped?.())
        .then(
          () => resolve(0),
          (error: unknown) => {
            logger.error({ err: error }, 'shutdown failed');
            resolve(1);
          },
        );
    };
    process.on('SIGTERM', handle);
    process.on('SIGINT', handle);
  });
}
