import type { Message, HandlerContext } from 'pythia-worker';

/** Example stream handler: message.fields holds every field of the entry. */
export default async function handleEvent(message: Message, context: HandlerContext): Promise<void> {
  context.logger.info({ fields: message.fields }, 'event');
}
