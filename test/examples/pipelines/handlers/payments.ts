import { PermanentError, type HandlerContext, type Message } from 'pythia-worker';

interface Payment {
  id: number;
  amount: number;
  card: string;
}

/**
 * Example handler: a declined card is permanent (straight to the dead letter); a gateway that is
 * "down" fails every attempt (retried, then dead-lettered); "flaky" fails the first attempt only.
 */
export default async function charge(message: Message<Payment>, context: HandlerContext) {
  const { id, amount, card } = message.body;
  if (card === 'declined') throw new PermanentError(`card declined for payment ${id}`);
  if (card === 'gateway-down') throw new Error('payment gateway unavailable');
  if (card === 'flaky' && message.attempt === 1) throw new Error('timeout talking to the gateway');
  context.logger.debug({ id }, 'charged');
  return { id, charged: amount, attempt: message.attempt };
}
