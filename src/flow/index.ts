import type { Logger } from 'pino';
import type { PipelineConfig } from '../config/index.ts';
import { parseOrderingKey } from '../config/ordering-key.ts';
import { flowKeys } from '../redis/keys.ts';
import type { ConnectionPool } from '../redis/pool.ts';
import type { Delivery } from '../sources/source.ts';
import { MARK_TTL_MS, OrderTickets } from './order-tickets.ts';
import { OrderingGate, type OpenDelivery } from './ordering.ts';

export { createPermits, type Permits } from './rate-limiter.ts';
export { OrderingGate } from './ordering.ts';

/** The pipeline's ordering gate, or undefined when it has no `ordering`. Channel sources order per process. */
export function createOrdering<T extends { delivery: Delivery }>(
  config: PipelineConfig,
  pool: ConnectionPool,
  open: OpenDelivery,
  logger: Logger,
): OrderingGate<T> | undefined {
  const ordering = config.ordering;
  if (!ordering) return undefined;
  const parsed = parseOrderingKey(ordering.key);
  // `pythia validate` and the loader reject an invalid key before a pipeline runs.
  if (!parsed.ok) throw new Error(`ordering.key ${parsed.error}`);
  const { list, stream } = config.source;
  const source = list ?? stream;
  const tickets = source
    ? new OrderTickets(
        {
          prefix: flowKeys.ordering(source.key, stream?.consumer_group),
          leaseTtlMs: ordering.lease_ttl_ms,
          lockTtlMs: source.block_timeout_ms + MARK_TTL_MS,
          maxInFlightPerKey: ordering.max_in_flight_per_key,
          keepUnfinished: Boolean(stream) || list?.delivery === 'at-least-once',
        },
        pool,
        logger,
      )
    : undefined;
  return new OrderingGate<T>(parsed.spec, ordering.max_in_flight_per_key, open, tickets, logger);
}
