import type { LoadedPipeline } from '../config/index.ts';
import { deadLetterTarget } from '../config/targets.ts';

/** Where a pipeline's dead letters live: a list (LPUSHed JSON) or a stream (XADD body/payload/reason). */
export interface DeadLetterLocation {
  kind: 'list' | 'stream';
  key: string;
}

/** Where a replayed message goes: the pipeline's own source. */
export type ReplayTarget =
  { kind: 'list'; key: string } | { kind: 'stream'; key: string; maxLength: number } | { kind: 'channel'; channels: string[] };

/** The dead letter the worker writes for this pipeline (configured, or the default name). */
export function deadLetterLocation({ config }: LoadedPipeline): DeadLetterLocation {
  const target = deadLetterTarget(config);
  return { kind: target.kind === 'stream' ? 'stream' : 'list', key: target.key };
}

export function replayTarget({ config }: LoadedPipeline): ReplayTarget {
  const { list, stream, channel } = config.source;
  if (list) return { kind: 'list', key: list.key };
  if (stream) return { kind: 'stream', key: stream.key, maxLength: stream.max_stream_length };
  return { kind: 'channel', channels: channel?.channels ?? [] };
}

export function describeLocation(location: DeadLetterLocation): string {
  return `${location.kind} ${location.key}`;
}
