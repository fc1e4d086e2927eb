import type { Target } from '../config/targets.ts';
import type { ConnectionPool } from '../redis/pool.ts';
import { writeTo } from '../redis/write.ts';
import { pythiaText, wrapPythia } from '../redis/pythia-envelope.ts';

export type Writer = (payload: string | Buffer, fields?: Record<string, string | Buffer>) => Promise<unknown>;

/**
 * One write per value on the next pooled connection (see redis/write.ts for the commands). Writes issued
 * in the same tick share one round trip through ioredis auto-pipelining.
 */
export function createWriter(target: Target, pool: ConnectionPool): Writer {
  return (payload, fields) => writeTo(pool.next(), target, payload, fields) as Promise<unknown>;
}

/** Results are sent as they are when they are strings or Buffers, and as JSON otherwise. */
export function serializeResult(value: unknown): string | Buffer {
  if (typeof value === 'string' || Buffer.isBuffer(value)) return value;
  return JSON.stringify(value) ?? 'null';
}

/**
 * output.envelope: `none` is serializeResult. `pythia` writes what Python Pythia's consumers read: on a
 * list or channel the JSON envelope {"body", "headers", "message_id"} with the result as its body; on a
 * stream the `body` field as its RedisStreamsProducer writes it (a Buffer as its text, or hex when it is
 * not UTF-8).
 */
export function resultSerializer(target: Target | undefined, envelope: 'none' | 'pythia' = 'none'): (value: unknown) => string | Buffer {
  if (envelope !== 'pythia' || target === undefined) return serializeResult;
  if (target.kind === 'stream') return (value) => (Buffer.isBuffer(value) ? Buffer.from(pythiaText(value)) : serializeResult(value));
  return (value) => wrapPythia(value, {});
}
