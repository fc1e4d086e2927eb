import type { BatchHandler } from 'pythia-worker';

interface Order {
  id: string | number;
  amount: number;
  currency?: string;
}

/**
 * Example batch handler (handler.batch): one call for up to max_size orders, one result per order in
 * the same order. An Error element fails that order alone (retried); one with `retryable: false` (or a
 * PermanentError) sends it to the dead letter. Throwing would fail the whole batch.
 */
export const handleBatch: BatchHandler<Order> = async (messages, context) => {
  context.logger.debug({ orders: messages.length }, 'processing a batch of orders');
  // A real handler would write the batch in one go here (one INSERT of many rows, one bulk API call).
  return messages.map(({ body, attempt }) => {
    if (body.amount <= 0) return Object.assign(new Error(`order ${body.id}: amount must be positive`), { retryable: false });
    return { order: body.id, charged: body.amount, currency: body.currency ?? 'EUR', attempt };
  });
};
