import type { HandlerContext, Message } from './types.ts';

/** What the dispatcher calls: a module function, a command per message, or persistent processes. */
export interface HandlerRunner {
  invoke(message: Message, context: HandlerContext): Promise<unknown>;
  /**
   * handler.batch: one call for many messages. Resolves to what the handler returned, unchecked (the
   * dispatcher's batcher checks that it is one result per message); rejects when the whole batch failed.
   */
  invokeBatch?(messages: Message[], context: HandlerContext): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * What a runner may use instead of context.signal where the context offers it (the dispatcher's do): no
 * AbortController is made for the call, which matters on the persistent handler's hot path.
 */
export interface AbortHook {
  /**
   * The reason when the call is aborted already; otherwise `listener` is called once if it is, until
   * stopListening(). One listener per context.
   */
  listenForAbort(listener: (reason: unknown) => void): { reason: unknown } | undefined;
  stopListening(): void;
}

/** The context's abort hook, or one made from its signal (contexts made outside the dispatcher). */
export function abortHookOf(context: HandlerContext): AbortHook {
  const hook = context as Partial<AbortHook>;
  if (typeof hook.listenForAbort === 'function' && typeof hook.stopListening === 'function') return hook as AbortHook;
  const signal = context.signal;
  let onAbort: (() => void) | undefined;
  return {
    listenForAbort(listener) {
      if (signal.aborted) return { reason: signal.reason };
      onAbort = () => listener(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      return undefined;
    },
    stopListening() {
      if (onAbort) signal.removeEventListener('abort', onAbort);
      onAbort = undefined;
    },
  };
}
