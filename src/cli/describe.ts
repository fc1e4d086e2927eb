import type { LoadedPipeline } from '../config/index.ts';
import { outputTarget, subscriptions } from '../config/targets.ts';

/** One line that says what a pipeline does, and the delivery notes a user must know. */
export function describePipeline({ config }: LoadedPipeline): { summary: string; notes: string[] } {
  const { list, stream, channel } = config.source;
  const notes: string[] = [];
  let from: string;
  if (list) {
    from = `list ${list.key} (${list.delivery})`;
    if (list.delivery === 'at-most-once') notes.push('source.list.delivery is at-most-once: messages in flight when the worker crashes are lost');
  } else if (stream) {
    from = `stream ${stream.key} group ${stream.consumer_group}`;
  } else {
    from = `channel ${subscriptions(channel).join(', ')}`;
    notes.push('pub/sub is at-most-once: Redis keeps nothing for a worker that is down, and messages beyond source.channel.buffer are dropped (and counted)');
  }
  const handler = config.handler.module !== undefined ? `module ${config.handler.module}#${config.handler.export}` : `command ${config.handler.command?.join(' ')} (${config.handler.mode})`;
  const to = outputTarget(config)?.key;
  return { summary: `${config.name}: ${from} -> ${handler}${to ? ` -> ${to}` : ''}, concurrency ${config.concurrency}`, notes };
}
