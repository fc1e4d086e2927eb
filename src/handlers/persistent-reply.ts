import { CommandError } from './child-process.ts';

/**
 * Reading the persistent protocol's replies: one JSON object per stdout line, `{"id", "ok": true,
 * "result"}` or `{"id", "ok": false, "error", "retryable"}` (see docs/command-handlers.md).
 */

/** A log line for the first few protocol problems, then one per thousand. */
export function shouldLog(count: number): boolean {
  return count <= 10 || count % 1000 === 0;
}

/** The start of a hostile line, short enough for a log entry. */
export function excerpt(line: string): string {
  return line.length > 200 ? line.slice(0, 200) + '…' : line;
}

/** The parsed line, or undefined when it is not JSON. */
export function parseReply(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/** The id of the request a reply answers (a number id matches its string), or undefined when it is not a reply. */
export function replyKey(reply: unknown): string | undefined {
  const id = typeof reply === 'object' && reply !== null ? (reply as { id?: unknown }).id : undefined;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
}

/**
 * Settles a request from its reply. Returns false for a malformed reply (neither "ok": true nor
 * "ok": false), which fails the request, retryable.
 */
export function settleFromReply(reply: unknown, resolve: (value: unknown) => void, reject: (error: unknown) => void): boolean {
  const { ok, result, error, retryable } = reply as { ok?: unknown; result?: unknown; error?: unknown; retryable?: unknown };
  if (ok === true) {
    resolve(result);
    return true;
  }
  if (ok === false) {
    const text =
      typeof error === 'string' ? error : error === undefined ? 'the handler reported a failure' : (JSON.stringify(error) ?? String(error));
    reject(new CommandError(text, { retryable: retryable !== false }));
    return true;
  }
  reject(new CommandError('malformed reply from the handler: "ok" must be true or false'));
  return false;
}
