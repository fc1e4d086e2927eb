// Handlers for the metrics tests. Bodies are JSON: {"mode": ..., "ms": ...}.
import { PermanentError } from '../../../src/errors.ts';
import type { HandlerContext, Message } from '../../../src/handlers/types.ts';

interface Body {
  mode?: 'ok' | 'permanent' | 'flaky' | 'leak';
  ms?: number;
}

/** ok: succeeds; permanent: PermanentError (dead letter at once); flaky: fails its first attempt only; leak: an error quoting LEAK_URL. */
export async function outcomes(message: Message<Body>, context: HandlerContext): Promise<void> {
  const mode = message.body.mode ?? 'ok';
  context.logger.debug({ mode, attempt: message.attempt }, 'handling');
  if (mode === 'permanent') throw new PermanentError(`message ${message.id} can never succeed`);
  if (mode === 'flaky' && message.attempt === 1) throw new Error('transient failure on the first attempt');
  if (mode === 'leak') throw new PermanentError(`could not reach ${process.env.LEAK_URL ?? ''}`);
}

/** Holds its message until the pipeline gives up on it (shutdown after the grace period, or timeout). */
export function block(_message: Message, context: HandlerContext): Promise<void> {
  return new Promise((resolve) => {
    if (context.signal.aborted) resolve();
    context.signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** Takes body.ms milliseconds (default 300). */
export async function slow(message: Message<Body>): Promise<void> {
  await new Promise((r) => setTimeout(r, message.body.ms ?? 300));
}
