import type { Logger } from 'pino';
import { escapeControl } from '../config/echo.ts';

/** A handler process's stderr is logged at most this many lines a second (with a burst of twice that)... */
export const STDERR_LINES_PER_SECOND = 100;
/** ...each cut to this many characters. */
export const STDERR_LINE_CHARS = 8192;
/** A single stderr line longer than this is not even held in memory: it is dropped and counted. */
export const STDERR_MAX_LINE_CHARS = 1024 * 1024;

/**
 * Logs one handler process's stderr without letting it flood the log: a handler printing in a
 * loop wrote 336 MB of log in 20 s, and with a slow log reader the worker's memory grew until
 * SIGTERM could no longer stop it (the log buffer had to drain first). Lines past the rate are
 * dropped and counted; the count is logged as a warning when lines pass again and when the process
 * ends. Control characters are escaped so that a handler cannot write escape sequences to an
 * operator's terminal through the log.
 */
export class StderrLog {
  private tokens = STDERR_LINES_PER_SECOND * 2;
  private last: number;
  private droppedSinceReport = 0;
  private droppedTotal = 0;
  private logger: Logger | undefined;

  constructor(
    private readonly makeLogger: () => Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.last = now();
  }

  get dropped(): number {
    return this.droppedTotal;
  }

  /** One line the process wrote to stderr. */
  line(text: string): void {
    const now = this.now();
    this.tokens = Math.min(STDERR_LINES_PER_SECOND * 2, this.tokens + ((now - this.last) / 1000) * STDERR_LINES_PER_SECOND);
    this.last = now;
    if (this.tokens < 1) {
      this.drop();
      return;
    }
    this.tokens -= 1;
    this.report();
    const shown = text.length > STDERR_LINE_CHARS ? `${text.slice(0, STDERR_LINE_CHARS)}…(${text.length} characters)` : text;
    this.log().info(escapeControl(shown));
  }

  /** A line too long to hold (see STDERR_MAX_LINE_CHARS). */
  drop(): void {
    this.droppedSinceReport++;
    this.droppedTotal++;
  }

  /** The process ended: the lines dropped since the last report are reported. */
  end(): void {
    this.report();
  }

  private report(): void {
    if (this.droppedSinceReport === 0) return;
    this.log().warn(
      { dropped: this.droppedSinceReport, droppedTotal: this.droppedTotal },
      `handler stderr: ${this.droppedSinceReport} lines dropped (more than ${STDERR_LINES_PER_SECOND} lines a second)`,
    );
    this.droppedSinceReport = 0;
  }

  private log(): Logger {
    this.logger ??= this.makeLogger();
    return this.logger;
  }
}
