import type { RedisClient } from '../redis/connection.ts';
import type { DeadLetterLocation } from './location.ts';

/**
 * Empties a dead letter and returns how many entries it held. A list is deleted; a stream is trimmed
 * to nothing (XTRIM MAXLEN 0), which keeps the key and any consumer groups reading it.
 */
export async function purgeDeadLetters(client: RedisClient, location: DeadLetterLocation): Promise<number> {
  if (location.kind === 'stream') return Number(await client.xtrim(location.key, 'MAXLEN', 0));
  const replies = (await client.multi().llen(location.key).del(location.key).exec()) ?? [];
  const [error, count] = replies[0] ?? [new Error('no reply'), 0];
  if (error) throw error;
  return Number(count);
}
