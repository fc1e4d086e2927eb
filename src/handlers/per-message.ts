import { execa } from 'execa';
import type { Logger } from 'pino';
import { StderrLog, STDERR_MAX_LINE_CHARS } from './stderr-log.ts';
import {
  CommandError,
  errorWithStderr,
  KILL_GRACE_MS,
  killGroup,
  processExit,
  readLines,
  releasePipes,
  requestFor,
  StderrTail,
  traceEnvironment,
  type CommandSpec,
} from './child-process.ts';
import type { HandlerRunner } from './runner.ts';
import type { HandlerContext, Message } from './types.ts';

/**
 * Per-message stdout: empty (or only whitespace) means no result; JSON is parsed; anything else is
 * passed on as the string that was printed, without its final newline.
 */
export function parseStdout(stdout: string): unknown {
  const trimmed = stdout.trim();
  if (trimmed === '') return undefined;
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    return stdout.replace(/\r?\n$/, '');
  }
}

/** One process per message: the message on stdin, the result on stdout, the exit code decides. */
export class PerMessageRunner implements HandlerRunner {
  private readonly running = new Set<number>();
  private closed = false;

  constructor(
    private readonly spec: CommandSpec,
    private readonly logger: Logger,
  ) {}

  async invoke(message: Message, context: HandlerContext): Promise<unknown> {
    const { signal } = context;
    if (signal.aborted) throw signal.reason;
    if (this.closed) throw new CommandError('the command handler is closed');
    const { spec } = this;
    const request = requestFor(message, context);
    const input = JSON.stringify(request) + '\n';
    const subprocess = execa(spec.file, spec.args, {
      cwd: spec.cwd,
      env: { ...spec.env, PYTHIA_MESSAGE_ID: message.id, PYTHIA_ATTEMPT: String(message.attempt), ...traceEnvironment(request) },
      input,
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: { stdout: true, stderr: false },
      stripFinalNewline: false,
      reject: false,
      // Its own process group (and session): the abort and the clean-up below reach its children too.
      detached: true,
      cancelSignal: signal,
      killSignal: 'SIGTERM',
      forceKillAfterDelay: KILL_GRACE_MS,
    });
    const pid = subprocess.pid;
    if (pid !== undefined) this.running.add(pid);
    const tail = new StderrTail();
    const stderrLog = new StderrLog(() => context.logger.child({ handlerPid: pid, stream: 'stderr' }));
    readLines(
      subprocess.stderr,
      (line) => {
        tail.push(line);
        stderrLog.line(line);
      },
      STDERR_MAX_LINE_CHARS,
      () => stderrLog.drop(),
    );
    subprocess.stderr?.once('close', () => stderrLog.end());
    let forceKill: NodeJS.Timeout | undefined;
    const onAbort = () => {
      killGroup(pid, 'SIGTERM');
      forceKill = setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS);
      forceKill.unref();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    // When the handler itself exits, anything it left behind in its group goes too: nothing outlives its message.
    subprocess.once('exit', () => {
      killGroup(pid, 'SIGKILL');
      clearTimeout(forceKill);
    });
    // Its exit decides, not its pipes: a helper in another session may hold them open (see processExit).
    void processExit(subprocess).then(() => releasePipes([subprocess.stdout, subprocess.stderr]));
    let result;
    try {
      result = await subprocess;
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (pid !== undefined) this.running.delete(pid);
    }
    if (result.isCanceled) throw signal.reason instanceof Error ? signal.reason : new CommandError('the handler was cancelled');
    const { exitCode } = result;
    if (result.signal !== undefined) {
      throw new CommandError(errorWithStderr(`command ${this.describe()} was killed by ${result.signal}`, tail), { signal: result.signal });
    }
    if (exitCode === undefined) {
      // It never ran: not found, not executable, bad cwd...
      throw new CommandError(`command ${this.describe()} could not be started: ${result.originalMessage || result.shortMessage}`);
    }
    if (exitCode !== 0) {
      const permanent = this.spec.permanentExitCodes.has(exitCode);
      const what = permanent ? ' (listed in handler.permanent_exit_codes: not retried)' : '';
      throw new CommandError(errorWithStderr(`command ${this.describe()} exited with code ${exitCode}${what}`, tail), {
        exitCode,
        retryable: !permanent,
      });
    }
    if (result.isMaxBuffer) throw new CommandError(`command ${this.describe()} wrote more to stdout than the worker buffers`);
    return parseStdout(String(result.stdout ?? ''));
  }

  private describe(): string {
    return [this.spec.file, ...this.spec.args].join(' ');
  }

  async close(): Promise<void> {
    this.closed = true;
    // The dispatcher has drained or abandoned its messages by now: nothing still running is wanted.
    for (const pid of this.running) killGroup(pid, 'SIGKILL');
    this.running.clear();
    this.logger.debug({ pipeline: this.spec.pipeline }, 'command handler closed');
  }
}
