import type { EventEmitter } from 'node:events';
import type { DeadLetterReason } from '../outputs/dead-letter.ts';
import type { BreakerState } from '../resilience/circuit-breaker.ts';
import type { Outcome, PipelineObserver } from '../metrics/pipeline-observer.ts';

/** One message finished an attempt: processed, scheduled for a retry, or dead-lettered (with why). */
export interface MessageEvent {
  pipeline: string;
  outcome: Exclude<Outcome, 'dropped'>;
  /** Set when outcome is 'dead_lettered'. */
  reason?: DeadLetterReason;
}

/**
 * What a Worker emits. Listeners run synchronously on the message path: keep them cheap (count, forward
 * to your own metrics); a listener that throws is logged and ignored, never fails a message.
 */
export interface WorkerEvents {
  /** Every pipeline is consuming (emitted once, at the end of start-up). */
  ready: [];
  /** stop() began: no new messages are fetched, in-flight ones get the grace period. */
  draining: [];
  /** Every pipeline stopped and its connections are closed. */
  stopped: [];
  message: [MessageEvent];
  /** A pipeline's circuit breaker changed state. */
  breaker: [{ pipeline: string; state: BreakerState }];
}

export type WorkerListeners = { [K in keyof WorkerEvents]?: (...args: WorkerEvents[K]) => void };

/** Wraps a pipeline's observer (metrics) and also emits its events on the worker; a message event is built only when someone listens. */
export function emittingObserver(
  pipeline: string,
  emitter: EventEmitter<WorkerEvents>,
  inner: PipelineObserver | undefined,
  onListenerError: (error: unknown) => void,
): PipelineObserver {
  const emit = (event: MessageEvent) => {
    if (emitter.listenerCount('message') === 0) return;
    try {
      emitter.emit('message', event);
    } catch (error) {
      onListenerError(error);
    }
  };
  return {
    outcome(outcome, count) {
      inner?.outcome(outcome, count);
      // dead_lettered is reported by deadLetter(), with its reason; dropped is a count, not a message.
      if (outcome === 'ok' || outcome === 'retried') emit({ pipeline, outcome });
    },
    duration(seconds) {
      inner?.duration(seconds);
    },
    inFlight(count) {
      inner?.inFlight(count);
    },
    retry() {
      inner?.retry();
    },
    deadLetter(reason) {
      inner?.deadLetter(reason);
      emit({ pipeline, outcome: 'dead_lettered', reason });
    },
    breaker(state) {
      inner?.breaker(state);
      try {
        emitter.emit('breaker', { pipeline, state });
      } catch (error) {
        onListenerError(error);
      }
    },
  };
}
