import type { HandlerContext, Message } from '../../../src/index.ts';

/** Every call of handleBatch in this process, in order. */
export declare const calls: { ids: number[]; attempts: number[]; pipeline: string }[];
export declare function handleBatch(messages: Message<{ id: number }>[], context: HandlerContext): Promise<unknown[]>;
