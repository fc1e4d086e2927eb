import type { Target } from '../config/targets.ts';

/** A value Redis accepts as a command argument. */
export type RedisArgument = string | number | Buffer;

/** A client, cluster or pipeline: anything that sends a raw command. */
export interface CommandSink {
  call(command: string, ...args: RedisArgument[]): unknown;
}

/**
 * The one command that writes a payload to a target: LPUSH (or RPUSH, see Target.push) for a list, XADD with a `body` field (plus
 * any extra fields, and `MAXLEN ~` when the target is trimmed) for a stream, PUBLISH for a channel.
 * On a client with auto-pipelining, writes issued in the same tick share one round trip; on Redis
 * Cluster the command goes to the node holding the target key.
 */
export function writeCommand(target: Target, payload: RedisArgument, fields?: Record<string, RedisArgument>): [string, ...RedisArgument[]] {
  switch (target.kind) {
    case 'list':
      return [target.push === 'right' ? 'RPUSH' : 'LPUSH', target.key, payload];
    case 'channel':
      return ['PUBLISH', target.key, payload];
    case 'stream': {
      const command: [string, ...RedisArgument[]] = ['XADD', target.key, ...trimArguments(target), '*', 'body', payload];
      if (fields) for (const [name, value] of Object.entries(fields)) command.push(name, value);
      return command;
    }
  }
}

/** Stream entries written as they are (`fields` holds every field, including `body`); `id` `*` lets Redis choose. */
export function streamEntryCommand(target: Target, fields: readonly RedisArgument[], id = '*'): [string, ...RedisArgument[]] {
  return ['XADD', target.key, ...trimArguments(target), id, ...fields];
}

/** Sends one write; the reply is Redis's (the list length, the entry id, the number of subscribers reached). */
export function writeTo(sink: CommandSink, target: Target, payload: RedisArgument, fields?: Record<string, RedisArgument>): unknown {
  const [command, ...args] = writeCommand(target, payload, fields);
  return sink.call(command, ...args);
}

/**
 * Queues many payloads on a pipeline: one LPUSH (RPUSH) carrying them all for a list (a consumer taking
 * from the other end still sees them in order), one XADD or PUBLISH each otherwise.
 */
export function queueWrites(sink: CommandSink, target: Target, payloads: readonly RedisArgument[]): void {
  if (payloads.length === 0) return;
  if (target.kind === 'list') {
    sink.call(target.push === 'right' ? 'RPUSH' : 'LPUSH', target.key, ...payloads);
    return;
  }
  for (const payload of payloads) writeTo(sink, target, payload);
}

function trimArguments(target: Target): RedisArgument[] {
  return target.kind === 'stream' && target.maxLength ? ['MAXLEN', '~', target.maxLength] : [];
}
