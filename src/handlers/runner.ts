import type { HandlerContext, Message } from './types.ts';

/** What the dispatcher calls: a module function, a command per message, or persistent processes. */
export interface HandlerRunner {
  invoke(message: Message, context: HandlerContext): Promise<unknown>;
  close(): Promise<void>;
}
