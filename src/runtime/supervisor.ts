import type { Logger } from 'pino';
import type { Worker } from './worker.ts';

/**
 * The one owner of SIGTERM and SIGINT for `pythia run`, from before start-up until exit.
 *
 * After start-up, the first signal drains: stop fetching, let in-flight messages finish within the
 * grace period, flush acks, close connections, resolve with exit code 0. A second signal exits at once
 * (code 130); unfinished messages stay recoverable in Redis.
 *
 * During start-up, a first signal exits at once (code 0) while no pipeline consumes yet: nothing has
 * been fetched, so nothing is in flight, and start-up may wait for Redis indefinitely (an unreachable
 * server is retried until it answers), which orchestrators end with SIGKILL anyway. Once a pipeline
 * consumes (inside startWorker, before there is a worker to stop) a first signal is held and the
 * worker drains as soon as it has started, rather than the default action killing handlers
 * mid-message; a second signal while starting exits at once (130).
 * The listeners are installed once and stay: removing a signal's last listener closes its watcher, and
 * a signal already caught but not yet dispatched would be swallowed.
 */
export class SignalSupervisor {
  private received = 0;
  private held: NodeJS.Signals | undefined;
  private running: { worker: Worker; onStopped: (() => Promise<void>) | undefined; resolve: (code: number) => void } | undefined;
  /** The worker being started, to tell whether anything can be in flight yet. */
  private starting: Worker | undefined;

  constructor(private readonly logger: Logger) {
    process.on('SIGTERM', this.handle);
    process.on('SIGINT', this.handle);
  }

  /** Start-up has created `worker` and is starting its pipelines (see WorkerOptions.onCreated). */
  watchStartup(worker: Worker): void {
    this.starting = worker;
  }

  /** Start-up is done: a signal now drains `worker` (at once if one came while starting). Resolves with the exit code. */
  supervise(worker: Worker, onStopped?: () => Promise<void>): Promise<number> {
    return new Promise((resolve) => {
      this.running = { worker, onStopped, resolve };
      if (this.held) this.drain(this.held);
    });
  }

  /** Start-up failed: the default signal actions apply again. */
  dispose(): void {
    process.off('SIGTERM', this.handle);
    process.off('SIGINT', this.handle);
  }

  private readonly handle = (signal: NodeJS.Signals): void => {
    this.received++;
    const starting = this.running === undefined;
    if (this.received > 1) {
      const what = starting ? 'second signal while starting' : 'second signal';
      this.logger.warn({ signal }, `${what}: exiting now; unfinished messages stay recoverable in Redis`);
      this.logger.flush?.();
      process.exit(130);
    }
    if (starting) {
      if (!this.starting?.pipelines.some((pipeline) => pipeline.state !== 'starting')) {
        // No pipeline consumes: nothing fetched, nothing to drain. Persistent handler processes already
        // started see their stdin close and exit (docs/command-handlers.md).
        this.logger.info({ signal }, 'signal received while starting, before any pipeline consumes: nothing is in flight, exiting now');
        this.logger.flush?.();
        process.exit(0);
      }
      this.held = signal;
      this.logger.info(
        { signal },
        'signal received while starting: the worker drains as soon as it has started (a second signal exits now)',
      );
      return;
    }
    this.drain(signal);
  };

  private drain(signal: NodeJS.Signals): void {
    const { worker, onStopped, resolve } = this.running as NonNullable<typeof this.running>;
    this.logger.info({ signal }, 'shutting down gracefully');
    worker
      .stop()
      .then(() => onStopped?.())
      .then(
        () => resolve(0),
        (error: unknown) => {
          this.logger.error({ err: error }, 'shutdown failed');
          resolve(1);
        },
      );
  }
}
