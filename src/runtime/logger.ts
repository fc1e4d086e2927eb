import pino, { type Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Values that could carry credentials are redacted wherever they appear in a log object. */
const REDACT = ['password', '*.password', 'url', '*.url', 'redis', '*.redis', 'sentinelPassword', '*.sentinelPassword', 'auth', '*.auth'];

/** Strips user:password@ from anything that looks like a Redis URL, and AUTH arguments from ioredis errors. */
export function scrubSecrets(text: string): string {
  return text.replace(/(rediss?:\/\/)[^@\s/]*@/g, '$1***@').replace(/\b(AUTH|auth)\b(\s+\S+){1,2}/g, '$1 ***');
}

export function createLogger(level: LogLevel = (process.env.PYTHIA_LOG_LEVEL as LogLevel | undefined) ?? 'info', destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
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
    destination ?? pino.destination({ fd: 2, sync: false }),
  );
}
