import type { Target } from '../config/targets.ts';
import type { ConnectionPool } from '../redis/pool.ts';
import { writeTo } from '../redis/write.ts';

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
