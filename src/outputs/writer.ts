import type { ConnectionPool } from '../redis/pool.ts';

/** Where a handler's result, or a dead letter, is written. */
export interface Target {
  kind: 'list' | 'stream' | 'channel';
  key: string;
  /** Approximate MAXLEN for streams (0: never trimmed). */
  maxLength?: number;
}

export type Writer = (payload: string | Buffer, fields?: Record<string, string | Buffer>) => Promise<unknown>;

/**
 * One write per value: LPUSH, XADD (a `body` field plus any extra fields) or PUBLISH. Writes issued in
 * the same tick share one round trip through ioredis auto-pipelining.
 */
export function createWriter(target: Target, pool: ConnectionPool): Writer {
  switch (target.kind) {
    case 'list':
      return (payload) => pool.next().lpush(target.key, payload);
    case 'channel':
      return (payload) => pool.next().publish(target.key, payload);
    case 'stream': {
      const trim: (string | number)[] = target.maxLength ? ['MAXLEN', '~', target.maxLength] : [];
      return (payload, fields) => {
        const args: (string | number | Buffer)[] = [...trim, '*', 'body', payload];
        if (fields) for (const [name, value] of Object.entries(fields)) args.push(name, value);
        return pool.next().call('XADD', target.key, ...args);
      };
    }
  }
}

/** Results are sent as they are when they are strings or Buffers, and as JSON otherwise. */
export function serializeResult(value: unknown): string | Buffer {
  if (typeof value === 'string' || Buffer.isBuffer(value)) return value;
  return JSON.stringify(value) ?? 'null';
}
