/** Log levels, most to least severe (pino's names); `silent` logs nothing. Kept apart from logger.ts so the CLI can list them without loading pino. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
