import type { Message, HandlerContext } from 'pythia-worker';

interface Order {
  id: string | number;
  amount: number;
  currency?: string;
}

/** Example handler: a returned value goes to the pipeline's output (the orders:done stream). */
export async function handle(message: Message<Order>, context: HandlerContext) {
  const order = message.body;
  context.logger.debug({ order: order.id }, 'processing order');
  return { order: order.id, charged: order.amount, currency: order.currency ?? 'EUR', attempt: message.attempt };
}
