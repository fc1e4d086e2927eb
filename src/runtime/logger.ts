import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
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

/**
 * Where lines go when no destination is given: stderr as JSON, or through pino-pretty when stderr is
 * a terminal (PYTHIA_LOG_FORMAT=json keeps JSON, PYTHIA_LOG_FORMAT=pretty forces pretty). pino-pretty
 * runs in-process as a stream, not as a worker-thread transport, so nothing is lost at exit.
 */
function defaultDestination(): pino.DestinationStream {
  const format = process.env.PYTHIA_LOG_FORMAT?.toLowerCase();
  const pretty = format === 'pretty' || (format !== 'json' && process.stderr.isTTY === true);
  if (pretty) {
    const require = createRequire(import.meta.url);
    const prettyFactory = require('pino-pretty') as (options: Record<string, unknown>) => pino.DestinationStream;
    return prettyFactory({ destination: 2, colorize: process.stderr.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true });
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
