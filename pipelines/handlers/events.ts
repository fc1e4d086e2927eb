import type { Message, HandlerContext } from '../../src/index.ts';

/** Example stream handler: message.fields holds every field of the entry. */
export default async function handleEvent(message: Message, context: HandlerContext): Promise<void> {
  context.logger.info({ fields: message.fields }, 'event');
}
