import path from 'node:path';
import { execa } from 'execa';
import type { Logger } from 'pino';
import type { PipelineConfig } from '../config/index.ts';
import type { HandlerRunner } from './runner.ts';
import type { HandlerContext, Message } from './types.ts';

/**
 * Command handlers (pipeline-dsl.md §3, docs/command-handlers.md): any executable, run with execa and
 * never through a shell. This file holds what both modes share and the per-message mode; the
 * persistent mode (long-lived JSON-lines processes) is in persistent.ts.
 */

/** SIGTERM first; whatever is still alive this long after gets SIGKILL. */
export const KILL_GRACE_MS = 2000;
/** Lines of stderr kept to explain a failure in its error (and so in the dead letter). */
const STDERR_TAIL_LINES = 20;
const STDERR_TAIL_CHARS = 2000;

/** A command handler's failure. `retryable: false` sends the message straight to the dead letter. */
export class CommandError extends Error {
  readonly retryable: boolean;
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  constructor(message: string, options: { retryable?: boolean; exitCode?: number; signal?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'CommandError';
    this.retryable = options.retryable ?? true;
    this.exitCode = options.exitCode;
    this.signal = options.signal;
  }
}

export type BodyFormat = PipelineConfig['message']['format'];

/** Everything needed to start the command, resolved once at start-up. */
export interface CommandSpec {
  file: string;
  args: string[];
  cwd: string;
  /** handler.env plus the PYTHIA_* variables (the worker's own environment is inherited underneath). */
  env: Record<string, string>;
  permanentExitCodes: ReadonlySet<number>;
  format: BodyFormat;
  pipeline: string;
}

export function commandSpec(config: PipelineConfig, baseDir: string): CommandSpec {
  const { handler } = config;
  const command = handler.command ?? [];
  if (command.length === 0) throw new Error('handler.command is empty');
  const cwd = path.resolve(baseDir, handler.cwd ?? '.');
  const first = command[0] as string;
  // Same rule as `pythia validate`: a path (it has a "/") is relative to cwd, a bare name is looked up on the PATH.
  const file = first.includes('/') ? path.resolve(cwd, first) : first;
  const env: Record<string, string> = {
    // Python block-buffers a piped stdout; a persistent handler that forgets to flush would never reply.
    PYTHONUNBUFFERED: '1',
    PYTHIA_PIPELINE: config.name,
    PYTHIA_MESSAGE_FORMAT: config.message.format,
    PYTHIA_HANDLER_MODE: handler.mode ?? 'per-message',
    PYTHIA_CONCURRENCY: String(config.concurrency),
  };
  for (const [key, value] of Object.entries(handler.env ?? {})) if (value !== undefined) env[key] = value;
  return { file, args: command.slice(1), cwd, env, permanentExitCodes: new Set(handler.permanent_exit_codes ?? []), format: config.message.format, pipeline: config.name };
}

/** The wire form of a message: `{id, body, headers, fields, attempt}`; binary bodies travel as base64 strings. */
export interface CommandRequest {
  id: string;
  body: unknown;
  headers: Record<string, string>;
  fields: Record<string, string>;
  attempt: number;
}

export function requestFor(message: Message): CommandRequest {
  const body = Buffer.isBuffer(message.body) ? message.body.toString('base64') : message.body;
  return { id: message.id, body, headers: message.headers, fields: message.fields, attempt: message.attempt };
}

/** Signals a whole process group (the handler was started detached, so its pid is the group id). */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // ESRCH: nothing left in the group
  }
}

/** The last lines a process wrote to stderr, for error messages. */
export class StderrTail {
  private readonly lines: string[] = [];
  push(line: string): void {
    this.lines.push(line.length > STDERR_TAIL_CHARS ? line.slice(0, STDERR_TAIL_CHARS) + '…' : line);
    if (this.lines.length > STDERR_TAIL_LINES) this.lines.shift();
  }
  text(): string {
    const joined = this.lines.join('\n');
    return joined.length > STDERR_TAIL_CHARS ? '…' + joined.slice(-STDERR_TAIL_CHARS) : joined;
  }
}

/**
 * Splits a text stream into lines ("\n" or "\r\n"). A line longer than maxChars is dropped (reported
 * through onOverflow) instead of growing without bound.
 */
export function readLines(stream: NodeJS.ReadableStream | null | undefined, onLine: (line: string) => void, maxChars = 64 * 1024 * 1024, onOverflow?: (chars: number) => void): void {
  if (!stream) return;
  stream.setEncoding('utf8');
  let partial = '';
  let skipping = false;
  stream.on('data', (chunk: string) => {
    let start = 0;
    for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', start)) {
      let line = partial + chunk.slice(start, nl);
      partial = '';
      start = nl + 1;
      if (skipping) {
        skipping = false;
        continue;
      }
      if (line.endsWith('\r')) line = line.slice(0, -1);
      onLine(line);
    }
    if (skipping) return;
    partial += chunk.slice(start);
    if (partial.length > maxChars) {
      onOverflow?.(partial.length);
      partial = '';
      skipping = true;
    }
  });
  stream.on('end', () => {
    if (partial !== '' && !skipping) onLine(partial.endsWith('\r') ? partial.slice(0, -1) : partial);
    partial = '';
  });
}

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

function errorWithStderr(text: string, tail: StderrTail): string {
  const stderr = tail.text();
  return stderr === '' ? text : `${text}; stderr: ${stderr}`;
}

/** One process per message: the message on stdin, the result on stdout, the exit code decides. */
class PerMessageRunner implements HandlerRunner {
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
    const input = JSON.stringify(requestFor(message)) + '\n';
    const subprocess = execa(spec.file, spec.args, {
      cwd: spec.cwd,
      env: { ...spec.env, PYTHIA_MESSAGE_ID: message.id, PYTHIA_ATTEMPT: String(message.attempt) },
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
    let log: Logger | undefined;
    readLines(subprocess.stderr, (line) => {
      tail.push(line);
      log ??= context.logger.child({ handlerPid: pid, stream: 'stderr' });
      log.info(line);
    });
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
      throw new CommandError(errorWithStderr(`command ${this.describe()} exited with code ${exitCode}${what}`, tail), { exitCode, retryable: !permanent });
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

/** Builds the runner for handler.command: per-message (default) or persistent. */
export async function createCommandRunner(config: PipelineConfig, baseDir: string, logger: Logger): Promise<HandlerRunner> {
  const spec = commandSpec(config, baseDir);
  if (config.handler.mode === 'persistent') {
    const { PersistentRunner } = await import('./persistent.ts');
    const runner = new PersistentRunner(spec, { instances: config.handler.instances ?? 1, stuckAfterMs: config.resilience.processing_timeout_ms }, logger);
    runner.start();
    return runner;
  }
  return new PerMessageRunner(spec, logger);
}
