import type { RedisClient } from '../redis/connection.ts';

/**
 * The oldest entry id that some consumer group of the stream still needs: the oldest one pending
 * (delivered, not acknowledged) or, after everything delivered, the next one not yet delivered.
 * Trimming to it (XTRIM MINID) never removes an entry a group has not read and acknowledged.
 * Undefined when the stream has no group (nothing to protect, but nothing known to be done either).
 */
export async function oldestNeededId(redis: RedisClient, key: string): Promise<string | undefined> {
  const groups = (await redis.xinfo('GROUPS', key)) as unknown[][];
  let oldest: string | undefined;
  for (const flat of groups) {
    const group = record(flat);
    let needed = nextId(String(group['last-delivered-id'] ?? '0-0'));
    if (Number(group.pending ?? 0) > 0) {
      const summary = (await redis.xpending(key, String(group.name))) as [number, string | null, ...unknown[]];
      if (summary[0] > 0 && summary[1] && compareIds(summary[1], needed) < 0) needed = summary[1];
    }
    if (oldest === undefined || compareIds(needed, oldest) < 0) oldest = needed;
  }
  return oldest;
}

/** XINFO's flat name/value reply as an object. */
export function record(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}

export function nextId(id: string): string {
  const [ms, seq] = id.split('-');
  return `${ms}-${BigInt(seq ?? 0) + 1n}`;
}

export function compareIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const byMs = BigInt(am) - BigInt(bm);
  if (byMs !== 0n) return byMs < 0n ? -1 : 1;
  const bySeq = BigInt(as) - BigInt(bs);
  return bySeq === 0n ? 0 : bySeq < 0n ? -1 : 1;
}
