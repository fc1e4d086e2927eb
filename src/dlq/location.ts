import type { LoadedPipeline } from '../config/index.ts';
import { deadLetterTarget, pushEndFor } from '../config/targets.ts';

/** Where a pipeline's dead letters live: a list (LPUSHed JSON) or a stream (XADD body/payload/reason). */
export interface DeadLetterLocation {
  kind: 'list' | 'stream';
  key: string;
}

/**
 * Where a replayed message goes: the pipeline's own source. A list entry goes to the end the consumer
 * takes last (`push`, opposite to source.list.pop_from), like a new message: see docs/dead-letters.md.
 */
export type ReplayTarget =
  | { kind: 'list'; key: string; push?: 'left' | 'right' }
  | { kind: 'stream'; key: string; maxLength: number }
  | { kind: 'channel'; channels: string[] };

/** The dead letter the worker writes for this pipeline (configured, or the default name). */
export function deadLetterLocation({ config }: LoadedPipeline): DeadLetterLocation {
  const target = deadLetterTarget(config);
  return { kind: target.kind === 'stream' ? 'stream' : 'list', key: target.key };
}

export function replayTarget({ config }: LoadedPipeline): ReplayTarget {
  const { list, stream, channel } = config.source;
  if (list) return { kind: 'list', key: list.key, push: pushEndFor(list.pop_from) };
  if (stream) return { kind: 'stream', key: stream.key, maxLength: stream.max_stream_length };
  return { kind: 'channel', channels: channel?.channels ?? [] };
}

export function describeLocation(location: DeadLetterLocation): string {
  return `${location.kind} ${location.key}`;
}
