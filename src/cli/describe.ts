import type { LoadedPipeline } from '../config/index.ts';
import { outputTarget, subscriptions } from '../config/targets.ts';

/**
 * One line that says what a pipeline does, the delivery notes a user must know, and warnings: valid
 * settings that can lose data (validate prints them and still exits 0).
 */
export function describePipeline({ config }: LoadedPipeline): { summary: string; notes: string[]; warnings: string[] } {
  const { list, stream, channel } = config.source;
  const notes: string[] = [];
  let from: string;
  if (list) {
    from = `list ${list.key} (${list.delivery}${list.pop_from === 'left' ? ', from the left' : ''})`;
    if (list.delivery === 'at-most-once')
      notes.push('source.list.delivery is at-most-once: messages in flight when the worker crashes are lost');
  } else if (stream) {
    from = `stream ${stream.key} group ${stream.consumer_group}`;
  } else {
    from = `channel ${subscriptions(channel).join(', ')}`;
    notes.push(
      'pub/sub is at-most-once: Redis keeps nothing for a worker that is down, and messages beyond source.channel.buffer are dropped (and counted)',
    );
  }
  const handler =
    config.handler.module !== undefined
      ? `module ${config.handler.module}#${config.handler.export}`
      : `command ${config.handler.command?.join(' ')} (${config.handler.mode})`;
  const batch = config.handler.batch;
  const batches = batch ? ` in batches of up to ${batch.max_size} (${batch.max_wait_ms} ms)` : '';
  const to = outputTarget(config)?.key;
  if (config.message.envelope === 'pythia') from += ", Python Pythia's envelope";
  return {
    summary: `${config.name}: ${from} -> ${handler}${batches}${to ? ` -> ${to}` : ''}, concurrency ${config.concurrency}`,
    notes,
    warnings: lengthCapWarnings(config),
  };
}

/** XADD ... MAXLEN removes the oldest entries whether or not anyone has read them. */
function lengthCapWarnings(config: LoadedPipeline['config']): string[] {
  const warnings: string[] = [];
  const output = config.output.stream;
  if (output && output.max_stream_length > 0) {
    warnings.push(
      `output.stream.max_stream_length ${output.max_stream_length} trims ${output.key} on every XADD: results its readers have not read yet are removed when they fall behind`,
    );
  }
  const dead = config.dead_letter.stream;
  if (dead && dead.max_stream_length > 0) {
    warnings.push(
      `dead_letter.stream.max_stream_length ${dead.max_stream_length} trims ${dead.key} on every XADD: the oldest dead letters are removed whether or not anyone inspected or replayed them`,
    );
  }
  return warnings;
}
