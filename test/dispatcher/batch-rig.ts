import type { HandlerRunner } from '../../src/handlers/runner.ts';
import type { HandlerContext, Message } from '../../src/handlers/types.ts';
import type { Writer } from '../../src/outputs/writer.ts';
import type { DispatcherOptions } from '../../src/runtime/dispatcher-options.ts';
import { settle } from './fake-clock.ts';
import { startRig } from './harness.ts';

/** One batch call the test settles by hand. */
export interface BatchCall {
  messages: Message[];
  context: HandlerContext;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** A batch handler whose every call waits until the test resolves or rejects it. */
export class ControlledBatchHandler implements HandlerRunner {
  readonly calls: BatchCall[] = [];

  invoke(): Promise<unknown> {
    return Promise.reject(new Error('a batch handler is never called per message'));
  }

  invokeBatch(messages: Message[], context: HandlerContext): Promise<unknown> {
    return new Promise((resolve, reject) => this.calls.push({ messages, context, resolve, reject }));
  }

  /** The size of every call so far, in order. */
  get sizes(): number[] {
    return this.calls.map((call) => call.messages.length);
  }

  async close(): Promise<void> {}
}

/** A dispatcher with handler.batch over in-memory parts and a fake clock, started; `written` records output writes. */
export async function batchRig(options: Partial<DispatcherOptions> & Pick<DispatcherOptions, 'batch'>, withOutput = true) {
  const written: string[] = [];
  const output: Writer = async (payload) => {
    written.push(payload.toString());
  };
  const rig = await startRig(new ControlledBatchHandler(), options, withOutput ? output : undefined);
  return { ...rig, written };
}

export { settle };
