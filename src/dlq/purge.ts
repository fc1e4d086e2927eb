import type { RedisClient } from '../redis/connection.ts';
import type { DeadLetterLocation } from './location.ts';

/**
 * KEYS[1] dead letter | ARGV[1] 'list' | 'stream'. Checks the key's type and empties it in one step:
 * a key of another type is left exactly as it is (a MULTI would run the DEL after the failed LLEN).
 * A list is deleted; a stream is trimmed to nothing (XTRIM MAXLEN 0), which keeps the key and any
 * consumer groups reading it. Returns {count} or {-1, actual type}.
 */
const DLQ_PURGE = {
  numberOfKeys: 1,
  lua: `
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'none' then return {0} end
if kind ~= ARGV[1] then return {-1, kind} end
if kind == 'list' then
  local n = redis.call('LLEN', KEYS[1])
  redis.call('DEL', KEYS[1])
  return {n}
end
return {redis.call('XTRIM', KEYS[1], 'MAXLEN', 0)}`,
};

/** The key holds something else than a dead letter of the configured kind: nothing was changed. */
export class DeadLetterTypeError extends Error {}

/** Empties a dead letter and returns how many entries it held; throws DeadLetterTypeError on a key of another type. */
export async function purgeDeadLetters(client: RedisClient, location: DeadLetterLocation): Promise<number> {
  if (!('pythiaDlqPurge' in client)) client.defineCommand('pythiaDlqPurge', DLQ_PURGE);
  const purge = (client as unknown as { pythiaDlqPurge(key: string, kind: string): Promise<[number, string?]> }).pythiaDlqPurge;
  const [count, actual] = await purge.call(client, location.key, location.kind);
  if (count < 0)
    throw new DeadLetterTypeError(
      `${location.key} holds a ${actual}, not a ${location.kind}: it is not this pipeline's dead letter, so nothing was purged`,
    );
  return count;
}
