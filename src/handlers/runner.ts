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
