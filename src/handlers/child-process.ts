import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { PipelineConfig } from '../config/index.ts';
import { inheritedEnvironment } from './child-env.ts';
import type { HandlerContext, Message } from './types.ts';

/**
 * What both command-handler modes share (docs/command-handlers.md): the resolved command, the wire form of a
 * message, process-group signalling, reading a child's output line by line, and telling when it exited. Any executable is run with
 * execa and never through a shell; per-message.ts and persistent.ts hold the two modes.
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
  /** The whole environment: what handler.env_inherit keeps of the worker's, the PYTHIA_* variables, handler.env. */
  env: Record<string, string | undefined>;
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
  const inherited = inheritedEnvironment(config);
  const env: Record<string, string | undefined> = {
    // execa lays this over the worker's environment; a variable env_inherit leaves out is unset (undefined).
    ...Object.fromEntries(
      Object.keys(process.env)
        .filter((name) => !(name in inherited))
        .map((name) => [name, undefined]),
    ),
    ...inherited,
    // Python block-buffers a piped stdout; a persistent handler that forgets to flush would never reply.
    PYTHONUNBUFFERED: '1',
    PYTHIA_PIPELINE: config.name,
    PYTHIA_MESSAGE_FORMAT: config.message.format,
    PYTHIA_HANDLER_MODE: handler.mode ?? 'per-message',
    PYTHIA_CONCURRENCY: String(config.concurrency),
  };
  // handler.batch: requests come as {"id","batch":[...]} lines of at most this many messages.
  if (handler.batch) env.PYTHIA_BATCH_MAX_SIZE = String(handler.batch.max_size);
  for (const [key, value] of Object.entries(handler.env ?? {})) if (value !== undefined) env[key] = value;
  return {
    file,
    args: command.slice(1),
    cwd,
    env,
    permanentExitCodes: new Set(handler.permanent_exit_codes ?? []),
    format: config.message.format,
    pipeline: config.name,
  };
}

/**
 * The wire form of a message: `{id, body, headers, fields, attempt}`, plus `traceparent` (and `tracestate`)
 * when tracing is on; binary bodies travel as base64 strings.
 */
export interface CommandRequest {
  id: string;
  body: unknown;
  headers: Record<string, string>;
  fields: Record<string, string>;
  attempt: number;
  /** The attempt's `process` span, W3C form: the parent of the spans the handler makes. */
  traceparent?: string;
  tracestate?: string;
}

export function requestFor(message: Message, context?: Pick<HandlerContext, 'traceparent' | 'tracestate'>): CommandRequest {
  const body = Buffer.isBuffer(message.body) ? message.body.toString('base64') : message.body;
  const request: CommandRequest = { id: message.id, body, headers: message.headers, fields: message.fields, attempt: message.attempt };
  const traceparent = context?.traceparent;
  if (traceparent !== undefined) {
    request.traceparent = traceparent;
    const tracestate = context?.tracestate;
    if (tracestate) request.tracestate = tracestate;
  }
  return request;
}

/** A per-message handler's TRACEPARENT / TRACESTATE variables (the OpenTelemetry convention for processes). */
export function traceEnvironment(request: CommandRequest): Record<string, string> {
  if (request.traceparent === undefined) return {};
  return request.tracestate ? { TRACEPARENT: request.traceparent, TRACESTATE: request.tracestate } : { TRACEPARENT: request.traceparent };
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
export function readLines(
  stream: NodeJS.ReadableStream | null | undefined,
  onLine: (line: string) => void,
  maxChars = 64 * 1024 * 1024,
  onOverflow?: (chars: number) => void,
): void {
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

/** An error message with the last lines the process wrote to stderr appended. */
export function errorWithStderr(text: string, tail: StderrTail): string {
  const stderr = tail.text();
  return stderr === '' ? text : `${text}; stderr: ${stderr}`;
}

/** How a handler process ended, from its 'exit' event. */
export interface ProcessExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Resolves when the process itself exits: its 'exit' event, not the end of its pipes. A handler may
 * start a helper in another session (setsid) that inherits its stdout and stderr; the pipes then stay
 * open for as long as the helper lives, and waiting for them to close (what execa's promise does)
 * would take a finished handler for a hung one. Never resolves for a process that could not be
 * started (there is no exit): race it with the start error.
 */
export function processExit(child: ChildProcess): Promise<ProcessExit> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ exitCode: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (exitCode, signal) => resolve({ exitCode, signal })));
}

/** After an exit, how long the pipes may stay silent before they are let go, and how long at most they are read. */
const QUIET_MS = 50;
const MAX_DRAIN_MS = 1000;

/**
 * Once the process has exited: reads what it wrote before exiting (still in the pipes), then lets go
 * of pipes that are still open. A pipe is let go when it ended, or has been silent for QUIET_MS, or
 * after MAX_DRAIN_MS whatever a leftover writer does: a helper holding it cannot keep the worker
 * waiting, and what the helper writes after the handler exited is not the handler's output.
 */
export async function releasePipes(streams: readonly (Readable | null | undefined)[]): Promise<void> {
  await Promise.all(streams.map((stream) => (stream ? release(stream) : undefined)));
}

function release(stream: Readable): Promise<void> {
  if (stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let quiet: NodeJS.Timeout;
    const done = () => {
      clearTimeout(quiet);
      clearTimeout(cap);
      stream.off('data', onData);
      stream.off('end', done);
      stream.off('close', done);
      // Destroying the parent's end only: the process (or helper) writing to it gets EPIPE, which is its business.
      if (!stream.destroyed) stream.destroy();
      resolve();
    };
    const onData = () => {
      clearTimeout(quiet);
      quiet = setTimeout(done, QUIET_MS);
    };
    quiet = setTimeout(done, QUIET_MS);
    const cap = setTimeout(done, MAX_DRAIN_MS);
    stream.on('data', onData);
    stream.once('end', done);
    stream.once('close', done);
  });
}
