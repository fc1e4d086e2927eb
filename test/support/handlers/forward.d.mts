import type { Message } from '../../../src/index.ts';

export default function forward(message: Message): Promise<void>;
/** Closes the handler's Producer. */
export declare function close(): Promise<void>;
