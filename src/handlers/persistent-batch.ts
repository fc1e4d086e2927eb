import { CommandError, type CommandRequest, requestFor } from './child-process.ts';
import { settleFromReply } from './persistent-reply.ts';
import type { HandlerContext, Message } from './types.ts';

/**
 * The persistent protocol's batch requests (handler.batch, docs/command-handlers.md): one line
 * `{"id": "batch-7", "batch": [request, ...]}` carries the whole batch, each element the request object
 * of one message; the reply is one line `{"id": "batch-7", "results": [element, ...]}`, one element
 * per message in the same order, each `{"ok": true, "result"}` or `{"ok": false, "error", "retryable"}`.
 * A reply `{"id", "ok": false, "error", "retryable"}` without results fails the whole batch.
 */

/**
 * The request line of a batch (with its newline). With tracing on, each element carries its message's
 * own `traceparent` / `tracestate` (its `process` span), and the line the batch call's span.
 */
export function batchLine(id: string, messages: readonly Message[], context?: Pick<HandlerContext, 'traceparent' | 'tracestate'>): string {
  const line: { id: string; batch: CommandRequest[]; traceparent?: string; tracestate?: string } = {
    id,
    batch: messages.map((message) => requestFor(message, message)),
  };
  const traceparent = context?.traceparent;
  if (traceparent !== undefined) {
    line.traceparent = traceparent;
    if (context?.tracestate) line.tracestate = context.tracestate;
  }
  return JSON.stringify(line) + '\n';
}

/**
 * Settles a batch request from its reply: resolves with one result per message, a CommandError in
 * the place of each failed element (so that message alone fails). A reply of any other shape fails the
 * whole batch (retryable): returns what was wrong with it, for the log, or undefined when it was valid.
 */
export function settleBatchReply(
  reply: unknown,
  size: number,
  resolve: (value: unknown) => void,
  reject: (error: unknown) => void,
): string | undefined {
  const { results, ok } = reply as { results?: unknown; ok?: unknown };
  if (results === undefined && ok === false) {
    settleFromReply(reply, resolve, reject); // the handler failed the whole batch itself
    return undefined;
  }
  const problem = resultsProblem(results, size);
  if (problem !== undefined) {
    reject(new CommandError(`malformed batch reply from the handler: ${problem}`));
    return `malformed batch reply: ${problem}; every message of the batch fails (retryable)`;
  }
  const settled: unknown[] = new Array<unknown>(size);
  for (let i = 0; i < size; i++) {
    settleFromReply(
      (results as unknown[])[i],
      (value) => (settled[i] = value),
      (error) => (settled[i] = error),
    );
  }
  resolve(settled);
  return undefined;
}

/** What is wrong with a reply's "results", or undefined when it is one valid element per message. */
function resultsProblem(results: unknown, size: number): string | undefined {
  if (!Array.isArray(results)) return `"results" must be an array with one element per message (${size})`;
  if (results.length !== size) return `${results.length} results for a batch of ${size} messages`;
  for (let i = 0; i < size; i++) {
    const element: unknown = results[i];
    const ok = typeof element === 'object' && element !== null ? (element as { ok?: unknown }).ok : undefined;
    if (ok !== true && ok !== false) return `results[${i}] has neither "ok": true nor "ok": false`;
  }
  return undefined;
}
