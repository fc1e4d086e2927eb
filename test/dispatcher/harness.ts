import { pino } from 'pino';
import type { HandlerRunner } from '../../src/handlers/runner.ts';
import type { HandlerContext, Message } from '../../src/handlers/types.ts';
import type { DeadLetterInput } from '../../src/outputs/dead-letter.ts';
import type { Writer } from '../../src/outputs/writer.ts';
import { createOpener, type Decoded } from '../../src/runtime/decode.ts';
import { Dispatcher } from '../../src/runtime/dispatcher.ts';
import type { FlowParts } from '../../src/runtime/dispatcher-flow.ts';
import type { DispatcherOptions } from '../../src/runtime/dispatcher-options.ts';
import type { Outcome, PipelineObserver } from '../../src/metrics/pipeline-observer.ts';
import { FakeClock, settle } from './fake-clock.ts';
import { MemorySource } from './memory-source.ts';

/** One handler call the test settles by hand. */
export interface Call {
  message: Message;
  context: HandlerContext;
  resolve(value?: unknown): void;
  reject(error: unknown): void;
}

/** A handler whose every call waits until the test resolves or rejects it. */
export class ControlledHandler implements HandlerRunner {
  readonly calls: Call[] = [];
  running = 0;
  maxRunning = 0;

  invoke(message: Message, context: HandlerContext): Promise<unknown> {
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    return new Promise((resolve, reject) => {
      const done =
        <T>(settleWith: (v: T) => void) =>
        (v: T) => {
          this.running--;
          settleWith(v);
        };
      this.calls.push({ message, context, resolve: done(resolve), reject: done(reject) });
    });
  }

  /** The calls for one message id, in order. */
  of(id: string): Call[] {
    return this.calls.filter((call) => call.message.id === id);
  }

  async close(): Promise<void> {}
}

/** Records what the dispatcher reports. */
export class RecordingObserver implements PipelineObserver {
  readonly outcomes: Outcome[] = [];
  readonly durations: number[] = [];
  readonly inFlightSeen: number[] = [];
  readonly breakerStates: string[] = [];
  retries = 0;
  outcome(outcome: Outcome): void {
    this.outcomes.push(outcome);
  }
  duration(seconds: number): void {
    this.durations.push(seconds);
  }
  inFlight(count: number): void {
    this.inFlightSeen.push(count);
  }
  retry(): void {
    this.retries++;
  }
  deadLetter(): void {}
  breaker(state: string): void {
    this.breakerStates.push(state);
  }
}

/** A dead-letter writer in memory; `failures` makes the next sends fail (a Redis outage). */
export class MemoryDeadLetters {
  readonly sent: DeadLetterInput[] = [];
  failures = 0;
  constructor(private readonly events: string[]) {}
  async send(input: DeadLetterInput): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      this.events.push(`dead letter ${input.messageId} failed`);
      throw new Error('READONLY simulated');
    }
    this.sent.push(input);
    this.events.push(`dead letter ${input.messageId}`);
  }
}

export const OPTIONS: DispatcherOptions = {
  pipeline: 'unit',
  concurrency: 3,
  batchSize: 10,
  processingTimeoutMs: 10_000,
  maxRetries: 3,
  maxBytes: 1024 * 1024,
  backoff: { retry_delay_ms: 1000, retry_backoff: 1, retry_max_delay_ms: 1000, retry_jitter: 0 },
  circuitBreaker: { enabled: false, failure_threshold: 5, reset_timeout_ms: 5000, half_open_max_calls: 1 },
  maxDeliveries: undefined,
  outputKey: 'unit:out',
  deadLetterKey: 'unit:dlq',
};

function decode(raw: Buffer): Decoded {
  try {
    return { ok: true, body: JSON.parse(raw.toString('utf8')) };
  } catch {
    return { ok: false, reason: 'invalid_json', error: 'invalid JSON' };
  }
}

/** A dispatcher over in-memory parts and a fake clock, started. */
export function dispatcherRig(
  options: Partial<DispatcherOptions> = {},
  output?: Writer,
  /** Flow control (rate_limit permits, an ordering gate that wraps the source). */
  flow: FlowParts = {},
) {
  return startRig(new ControlledHandler(), options, output, flow);
}

/** A dispatcher with `handler` over in-memory parts and a fake clock, started: what every rig shares. */
export async function startRig<H extends HandlerRunner>(
  handler: H,
  options: Partial<DispatcherOptions>,
  output?: Writer,
  flow: FlowParts = {},
) {
  const events: string[] = [];
  const clock = new FakeClock();
  const source = new MemorySource(events);
  const observer = new RecordingObserver();
  const deadLetters = new MemoryDeadLetters(events);
  const dispatcher = new Dispatcher({
    options: { ...OPTIONS, ...options },
    source: flow.ordering ? flow.ordering.wrap(source) : source,
    flow,
    handler,
    open: createOpener(1_048_576),
    decode,
    output,
    deadLetter: deadLetters,
    logger: pino({ level: 'silent' }),
    observer,
    clock,
  });
  dispatcher.start();
  await settle();
  return { dispatcher, clock, source, handler, observer, deadLetters, events };
}

export { settle };
