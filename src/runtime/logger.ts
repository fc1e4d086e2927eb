import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
import { escapeControl } from '../config/echo.ts';
import { scrubSecrets } from '../redis/redact.ts';
import { LOG_LEVELS, type LogLevel } from './log-level.ts';

export { LOG_LEVELS, type LogLevel } from './log-level.ts';

/** Values that could carry credentials are redacted wherever they appear in a log object. */
const REDACT = ['password', '*.password', 'url', '*.url', 'redis', '*.redis', 'sentinelPassword', '*.sentinelPassword', 'auth', '*.auth'];

/** The level: the explicit one, else PYTHIA_LOG_LEVEL when it names a level, else info. */
export function resolveLogLevel(level?: LogLevel): LogLevel {
  if (level) return level;
  const fromEnv = process.env.PYTHIA_LOG_LEVEL?.trim().toLowerCase();
  return LOG_LEVELS.includes(fromEnv as LogLevel) ? (fromEnv as LogLevel) : 'info';
}

export type LogFormat = 'json' | 'pretty';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

let chosenFormat: LogFormat | undefined;

/** The format chosen on the command line (`--log-format`); it wins over PYTHIA_LOG_FORMAT. */
export function setLogFormat(format: LogFormat | undefined): void {
  chosenFormat = format;
}

/**
 * JSON or pretty: `--log-format`, else PYTHIA_LOG_FORMAT (json|pretty), else pretty when stderr is a
 * terminal and JSON otherwise (a log collector reads a pipe or a file).
 */
export function resolveLogFormat(env: NodeJS.ProcessEnv = process.env, stderrIsTTY = process.stderr.isTTY === true): LogFormat {
  if (chosenFormat) return chosenFormat;
  const fromEnv = env.PYTHIA_LOG_FORMAT?.trim().toLowerCase();
  if (fromEnv === 'json' || fromEnv === 'pretty') return fromEnv;
  return stderrIsTTY ? 'pretty' : 'json';
}

/**
 * Whether pretty logs are coloured: FORCE_COLOR wins when set (0 or false turns colour off, anything
 * else on), as it does for Node itself; then a non-empty NO_COLOR turns colour off; else colour only
 * on a terminal.
 */
export function colorEnabled(env: NodeJS.ProcessEnv = process.env, stderrIsTTY = process.stderr.isTTY === true): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !/^(0|false)$/i.test(force.trim());
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stderrIsTTY;
}

/**
 * Where lines go when no destination is given: stderr, as JSON or through pino-pretty (see
 * resolveLogFormat). pino-pretty runs in-process as a stream, not as a worker-thread transport, so
 * nothing is lost at exit.
 */
function defaultDestination(): pino.DestinationStream {
  if (resolveLogFormat() === 'pretty') {
    const require = createRequire(import.meta.url);
    const prettyFactory = require('pino-pretty') as (options: Record<string, unknown>) => pino.DestinationStream;
    return prettyFactory({
      destination: 2,
      colorize: colorEnabled(),
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      sync: true,
      // JSON lines escape control characters; pretty ones print the message as is, so a channel name or
      // a handler's stderr with ANSI escapes or newlines would reach the terminal: escape them here.
      messageFormat: (log: Record<string, unknown>, messageKey: string) => escapeControl(String(log[messageKey] ?? '')),
    });
  }
  return pino.destination({ fd: 2, sync: false });
}

export function createLogger(level?: LogLevel, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level: resolveLogLevel(level),
      // The serialized line, whatever its fields, never carries a known credential.
      hooks: { streamWrite: scrubSecrets },
      base: { pid: process.pid },
      redact: { paths: REDACT, censor: '[redacted]' },
      serializers: {
        err: (error: unknown) => {
          if (error instanceof Error) return { type: error.name, message: scrubSecrets(error.message) };
          return scrubSecrets(String(error));
        },
      },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? defaultDestination(),
  );
}
