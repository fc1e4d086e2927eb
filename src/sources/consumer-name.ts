import type { RedisClient } from '../redis/connection.ts';

/** Raised when another live process holds this consumer name. */
export class ConsumerNameInUseError extends Error {
  override readonly name = 'ConsumerNameInUseError';
}

/**
 * Takes a consumer name for this process: its heartbeat key, set only if absent (NX) to a value
 * unique to this process. A name whose heartbeat exists belongs either to a live process, which
 * refreshes it every ttl/3, or to one that crashed, whose key runs out within ttl. So we watch the
 * key's remaining time: if it goes up, someone refreshed it and the name is in use; if the key
 * expires, the name is ours. A restart after a crash waits at most ttl.
 */
export async function claimConsumerName(
  redis: RedisClient,
  heartbeat: string,
  instance: string,
  ttlMs: number,
  what: string,
): Promise<void> {
  const poll = Math.max(50, Math.min(500, Math.floor(ttlMs / 10)));
  let previous = Number.POSITIVE_INFINITY;
  for (;;) {
    if ((await redis.set(heartbeat, instance, 'PX', ttlMs, 'NX')) === 'OK') return;
    const remaining = await redis.pttl(heartbeat);
    if (remaining > previous + poll) {
      throw new ConsumerNameInUseError(
        `${what} is in use by another live process (its heartbeat ${heartbeat} is being refreshed): two processes with one name would each take the other's messages as their own. Give each process its own name, or leave it empty for a unique one.`,
      );
    }
    if (remaining >= 0) previous = remaining;
    await new Promise((resolve) => setTimeout(resolve, poll));
  }
}
