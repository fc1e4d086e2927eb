import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Values that could carry credentials are redacted wherever they appear in a log object. */
const REDACT = ['password', '*.password', 'url', '*.url', 'redis', '*.redis', 'sentinelPassword', '*.sentinelPassword', 'auth', '*.auth'];

/**
 * Credentials known to this process (Redis passwords from pipeline files, URLs and --redis-url):
 * every log line is scrubbed of them as a last line of defence, whatever field or message they
 * ended up in. Secrets shorter than 4 characters are not scrubbed literally (they would mangle
 * ordinary text); the structural rules (URL user info, AUTH arguments, password fields) still apply.
 */
const secrets = new Set<string>();

export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < 4) return;
  for (const form of [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)]) secrets.add(form);
}

/** Registers the user name's password part of a URL (redis://user:password@host), decoded and as written. */
export function registerUrlSecrets(url: string | undefined | null): void {
  if (!url) return;
  try {
    const parsed = new URL(url);
    registerSecret(parsed.password);
    registerSecret(decodeURIComponent(parsed.password));
  } catch {
    // Not a URL: nothing structured to register.
  }
}

/** Registers every credential of a pipeline's redis section (and of a --redis-url override). */
export function registerRedisSecrets(redis: { url?: string; password?: string; sentinel?: { password?: string }; cluster?: { nodes?: string[] } }, overrideUrl?: string): void {
  registerUrlSecrets(overrideUrl);
  registerUrlSecrets(redis.url);
  registerSecret(redis.password);
  registerSecret(redis.sentinel?.password);
  for (const node of redis.cluster?.nodes ?? []) registerUrlSecrets(node);
}

/** Strips user:password@ from anything that looks like a URL, AUTH arguments from ioredis errors, and every registered secret. */
export function scrubSecrets(text: string): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^@\s/"']*@/gi, '$1***@').replace(/\b(AUTH|auth)\b(\s+[^\s"]+){1,2}/g, '$1 ***');
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join('[redacted]');
  return out;
}

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
