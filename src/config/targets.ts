import type { PipelineConfig } from './pipeline.types.ts';

/**
 * Every key and label derived from a pipeline's configuration, written once: where its messages come
 * from, where results and dead letters go, and how its source is named in logs and metrics. The worker,
 * `pythia validate`, `pythia dlq`, `pythia produce` and the test harness all read them from here.
 */

/** Where a payload is written: a list (LPUSH), a stream (XADD) or a channel (PUBLISH). */
export interface Target {
  kind: 'list' | 'stream' | 'channel';
  key: string;
  /** Approximate MAXLEN for streams (0 or absent: never trimmed). */
  maxLength?: number;
  /** Lists: the end a write pushes to, `left` (LPUSH; absent means left) or `right` (RPUSH). */
  push?: 'left' | 'right';
}

/**
 * The end of a source list a producer pushes to so that the consumer takes items in the order sent:
 * the end opposite to source.list.pop_from. A push to the pop_from end is taken next (a priority message).
 */
export function pushEndFor(popFrom: 'left' | 'right' | undefined): 'left' | 'right' {
  return popFrom === 'left' ? 'right' : 'left';
}

type Config = Pick<PipelineConfig, 'name' | 'source' | 'output' | 'dead_letter'>;

/** The source's key (list or stream); undefined for a channel source. */
export function sourceKey(config: Pick<PipelineConfig, 'source'>): string | undefined {
  return config.source.list?.key ?? config.source.stream?.key;
}

/** The source as a producer writes to it; a channel source is written to its first plain channel (none: patterns only). */
export function sourceTarget(config: Pick<PipelineConfig, 'source'>): Target | undefined {
  const { list, stream, channel } = config.source;
  if (list) return list.pop_from === 'left' ? { kind: 'list', key: list.key, push: 'right' } : { kind: 'list', key: list.key };
  if (stream) return { kind: 'stream', key: stream.key, maxLength: stream.max_stream_length };
  const first = channel?.channels[0];
  return first === undefined ? undefined : { kind: 'channel', key: first };
}

/** Every channel and pattern a channel source subscribes to, in the order written. */
export function subscriptions(channel: { channels: readonly string[]; patterns: readonly string[] } | undefined): string[] {
  return [...(channel?.channels ?? []), ...(channel?.patterns ?? [])];
}

/** The source as named in logs and in the `source` metric label: `list:KEY`, `stream:KEY` or `channel:A,B`. */
export function sourceLabel(config: Pick<PipelineConfig, 'source'>): string {
  const { list, stream, channel } = config.source;
  if (list) return `list:${list.key}`;
  if (stream) return `stream:${stream.key}`;
  return `channel:${subscriptions(channel).join(',')}`;
}

/** Where a handler's result goes; undefined when the pipeline has no output. */
export function outputTarget(config: Pick<PipelineConfig, 'output'>): Target | undefined {
  const { output } = config;
  // Python Pythia's consumers take from the left (BLPOP) and its producer RPUSHes: results keep that order.
  if (output.list)
    return output.envelope === 'pythia' ? { kind: 'list', key: output.list, push: 'right' } : { kind: 'list', key: output.list };
  if (output.stream) return { kind: 'stream', key: output.stream.key, maxLength: output.stream.max_stream_length };
  if (output.channel) return { kind: 'channel', key: output.channel };
  return undefined;
}

/** The dead letter when none is configured: next to the source key, or named after the pipeline for a channel source. */
export function defaultDeadLetterKey(sourceKeyValue: string | undefined, pipeline: string): string {
  return sourceKeyValue === undefined ? `pythia:${pipeline}:dead` : `${sourceKeyValue}:dead`;
}

/** Where failed messages go: dead_letter.stream, dead_letter.list, or the default list. */
export function deadLetterTarget(config: Config): Target {
  if (config.dead_letter.stream)
    return { kind: 'stream', key: config.dead_letter.stream.key, maxLength: config.dead_letter.stream.max_stream_length };
  return { kind: 'list', key: config.dead_letter.list ?? defaultDeadLetterKey(sourceKey(config), config.name) };
}
