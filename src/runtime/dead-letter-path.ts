import type { Logger } from 'pino';
import type { PipelineObserver } from '../metrics/pipeline-observer.ts';
import type { DeadLetterReason, DeadLetterWriter } from '../outputs/dead-letter.ts';
import { retryForever } from '../redis/retry-forever.ts';
import type { Delivery, Source } from '../sources/source.ts';
import type { Work } from './attempt.ts';
import type { Clock } from './clock.ts';

export interface DeadLetterPathParts {
  pipeline: string;
  /** The dead letter's key (the name of its write span). */
  deadLetterKey: string;
  deadLetter: Pick<DeadLetterWriter, 'send'>;
  source: Pick<Source, 'ack' | 'flush'>;
  observer: PipelineObserver;
  logger: Logger;
  clock: Clock;
  /** True once the dispatcher stops: a failing write is then given up after a few tries. */
  isStopping: () => boolean;
  /** Deliveries left unacknowledged (their dead letter could not be written), handed back at stop. */
  unfinished: Set<Delivery>;
  /** Frees the message's concurrency slot once its dead letter is written (or given up). */
  release: (work: Work) => void;
}

/**
 * The dispatcher's way to the dead letter: writes it (retrying while Redis is away; the message
 * holds its slot meanwhile), and only then acknowledges the message.
 */
export class DeadLetterPath {
  /** Oversized payloads are loaded one at a time, only to be dead-lettered: memory holds one at most. */
  private oversizedLane: Promise<void> = Promise.resolve();

  constructor(private readonly parts: DeadLetterPathParts) {}

  send(work: Work, reason: DeadLetterReason, error: string, attempts: number): void {
    const { deadLetter, source, observer, logger, clock, unfinished } = this.parts;
    const now = clock.epochMs();
    const delivery = work.delivery;
    const input = {
      raw: work.keepWhole ? delivery.raw : work.raw,
      headers: work.headers,
      envelope: work.keepWhole ? ('pythia' as const) : undefined,
      reason,
      error,
      attempts,
      origin: delivery.origin,
      messageId: work.messageId ?? delivery.id,
      fields: delivery.fields,
      fieldPairs: delivery.fieldPairs,
      firstFailureAt: work.firstFailureAt || now,
      lastFailureAt: now,
    };
    logger.warn({ messageId: delivery.id, reason, attempts, err: error, ...work.trace.logFields }, 'dead-lettering message');
    const span = work.trace.deadLetterWrite(this.parts.deadLetterKey, reason);
    const traced = (failure?: unknown): void => {
      span.end(failure);
      work.trace.end(failure === undefined ? 'dead_lettered' : 'unfinished');
    };
    const keepTrying = (err: unknown, tries: number): boolean => {
      // While stopping, give up after a few tries: left unacknowledged, it is redelivered after a restart.
      if (this.parts.isStopping() && tries > 3) return false;
      logger.error({ err, tries, pipeline: this.parts.pipeline }, 'writing the dead letter failed; retrying');
      return true;
    };
    const wait = (ms: number): Promise<void> => new Promise((resolve) => clock.setTimeout(resolve, ms));
    const oversized = delivery.oversized;
    const write = async (): Promise<void> => {
      if (oversized) {
        const raw = await retryForever(oversized.load, keepTrying, wait);
        // Gone from the processing list (requeued by a recovery): nothing to dead-letter or acknowledge.
        if (raw === undefined) {
          span.end();
          work.trace.end('unfinished');
          return;
        }
        input.raw = raw;
        // A stream entry's fields arrive with its bytes.
        input.fields = delivery.fields;
        input.fieldPairs = delivery.fieldPairs;
      }
      await retryForever(() => deadLetter.send(input), keepTrying, wait);
      traced();
      source.ack(delivery);
      observer.deadLetter(reason);
      observer.outcome('dead_lettered');
    };
    if (!oversized) {
      write()
        .catch((err: unknown) => {
          traced(err);
          unfinished.add(delivery);
        })
        .finally(() => this.parts.release(work));
      return;
    }
    // One oversized payload in memory at a time: its ack (which carries it) is flushed before the next loads.
    this.oversizedLane = this.oversizedLane
      .then(write)
      .then(() => source.flush())
      .catch((err: unknown) => {
        traced(err);
        unfinished.add(delivery);
      })
      .finally(() => {
        input.raw = delivery.raw;
        input.fieldPairs = delivery.fieldPairs = undefined;
        this.parts.release(work);
      });
  }
}
