/**
 * Thrown by a handler for a failure that retrying cannot fix: the message goes straight to the
 * dead letter (reason permanent_error). Any error with `retryable: false` is treated the same way.
 */
export class PermanentError extends Error {
  readonly retryable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

/** The handler did not finish within resilience.processing_timeout_ms. */
export class TimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`handler timed out after ${timeoutMs} ms`);
    this.name = 'TimeoutError';
  }
}

export function isPermanent(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === false;
}

/** The text a log line or dead letter shows for a thrown value of any type. */
export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error));
}
