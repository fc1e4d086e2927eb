import type { Logger } from 'pino';
import type { Delivery } from '../sources/source.ts';
import type { Work } from './attempt.ts';
import type { Clock, Timer } from './clock.ts';

export interface GracePeriodParts {
  clock: Clock;
  logger: Logger;
  /** The messages holding a concurrency slot. */
  running: ReadonlySet<Work>;
  /** Where the deliveries of abandoned messages go, unacknowledged, to be handed back at stop. */
  unfinished: Set<Delivery>;
}

/**
 * The end of a drain at shutdown: waits up to `graceMs` for the running messages to finish (`drained`
 * resolves when the last slot is freed), then abandons those still running: their signal is aborted,
 * their late results are discarded and their deliveries are left unacknowledged, so they are redelivered.
 */
export async function finishWithinGrace(drained: Promise<void>, graceMs: number, parts: GracePeriodParts): Promise<void> {
  const { clock, running, unfinished } = parts;
  let timer: Timer | undefined;
  const expired = new Promise<'expired'>((resolve) => (timer = clock.setTimeout(() => resolve('expired'), graceMs)));
  const result = await Promise.race([drained, expired]);
  clock.clearTimeout(timer);
  if (result !== 'expired') return;
  parts.logger.warn({ count: running.size, graceMs }, 'grace period over: abandoning unfinished messages');
  for (const work of running) {
    work.attemptId = 0; // late results are discarded
    work.context?.abort(new Error('shutdown: grace period over'));
    work.trace.end('unfinished');
    unfinished.add(work.delivery);
  }
}
