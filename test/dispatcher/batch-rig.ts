import { pino } from 'pino';
import type { HandlerRunner } from '../../src/handlers/runner.ts';
import type { HandlerContext, Message } from '../../src/handlers/types.ts';
import type { Writer } from '../../src/outputs/writer.ts';
import { createOpener, type Decoded } from '../../src/runtime/decode.ts';
import { Dispatcher } from '../../src/runtime/dispatcher.ts';
import type { DispatcherOptions } from '../../src/runtime/dispatcher-options.ts';
import { FakeClock, settle } from './fake-clock.ts';
import { MemoryDeadLetters, OPTIONS, RecordingObserver } from './harness.ts';
import { MemorySource } from './memory-source.ts';

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

function decode(raw: Buffer): Decoded {
  return { ok: true, body: JSON.parse(raw.toString('utf8')) as unknown };
}

/** A dispatcher with handler.batch over in-memory parts and a fake clock, started; `written` records output writes. */
export async function batchRig(options: Partial<DispatcherOptions> & Pick<DispatcherOptions, 'batch'>, withOutput = true) {
  const events: string[] = [];
  const written: string[] = [];
  const output: Writer = async (payload) => {
    written.push(payload.toString());
  };
  const clock = new FakeClock();
  const source = new MemorySource(events);
  const handler = new ControlledBatchHandler();
  const observer = new RecordingObserver();
  const deadLetters = new MemoryDeadLetters(events);
  const dispatcher = new Dispatcher({
    options: { ...OPTIONS, ...options },
    source,
    handler,
    open: createOpener(1_048_576),
    decode,
    output: withOutput ? output : undefined,
    deadLetter: deadLetters,
    logger: pino({ level: 'silent' }),
    observer,
    clock,
  });
  dispatcher.start();
  await settle();
  return { dispatcher, clock, source, handler, observer, deadLetters, events, written };
}

export { settle };
