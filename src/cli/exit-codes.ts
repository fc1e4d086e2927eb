/**
 * The exit codes of every verb. A missing file is invalid input (1), not a usage error: the command
 * line was well formed. README.md and docs/dsl-reference.md (scripts/gen-dsl-reference.mjs) print
 * this table; test/config/cli.test.ts runs every verb against it.
 */
export const EXIT = {
  /** Done: the files are valid, the worker stopped gracefully, the messages were sent. */
  ok: 0,
  /** Invalid input (a pipeline with errors, a missing file, a warning under --strict) or a failure (Redis unreachable, a replay left entries). */
  failure: 1,
  /** Usage: unknown verb or option, a missing argument, a bad option value, no verb at all (help goes to stderr). */
  usage: 2,
} as const;
