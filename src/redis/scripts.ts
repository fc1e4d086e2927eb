import type { RedisClient } from './connection.ts';

/**
 * Lua scripts. Each script's KEYS share one hash slot (see keys.ts), so they run on Redis Cluster.
 * ioredis sends EVALSHA and falls back to EVAL after NOSCRIPT (e.g. after a Redis restart).
 */
export const LIST_FETCH = {
  // KEYS[1] queue, KEYS[2] processing list | ARGV[1] max items
  // Takes up to ARGV[1] items from the right (oldest, with LPUSH producers) and records them in the
  // processing list in one atomic step, so a crash right after leaves them recoverable.
  numberOfKeys: 2,
  lua: `
local items = redis.call('RPOP', KEYS[1], ARGV[1])
if not items then return {} end
for i = 1, #items, 1000 do
  redis.call('LPUSH', KEYS[2], unpack(items, i, math.min(i + 999, #items)))
end
return items`,
};

export const LIST_ACK = {
  // KEYS[1] processing list | ARGV[1] the finished payloads, concatenated | ARGV[2] their byte lengths, comma-separated
  // One argument instead of one per payload: building a command argument costs the client more than
  // the bytes do. LREM from the tail: the oldest in-flight items sit at the right, so each removal is short.
  numberOfKeys: 1,
  lua: `
local blob = ARGV[1]
local pos = 1
local n = 0
for len in string.gmatch(ARGV[2], '%d+') do
  local size = tonumber(len)
  redis.call('LREM', KEYS[1], -1, string.sub(blob, pos, pos + size - 1))
  pos = pos + size
  n = n + 1
end
return n`,
};

export const LIST_RECOVER = {
  // KEYS[1] queue, KEYS[2] processing list, KEYS[3] heartbeat, KEYS[4] consumers set
  // ARGV[1] consumer name, ARGV[2] '1' to recover even with a live heartbeat (our own list at start-up)
  // Moves a dead consumer's items back to the right end of the queue, oldest last, so they are next.
  numberOfKeys: 4,
  lua: `
if ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local items = redis.call('LRANGE', KEYS[2], 0, -1)
for i = 1, #items, 1000 do
  redis.call('RPUSH', KEYS[1], unpack(items, i, math.min(i + 999, #items)))
end
redis.call('DEL', KEYS[2])
if ARGV[2] ~= '1' then redis.call('SREM', KEYS[4], ARGV[1]) end
return #items`,
};

export const LIST_RECONCILE = {
  // KEYS[1] processing list, KEYS[2] queue | ARGV[1..n] payloads this consumer knows are in flight
  // After a reconnect, a fetch whose reply was lost may have moved items nobody is working on:
  // everything in the processing list beyond the known multiset goes back to the queue.
  numberOfKeys: 2,
  lua: `
local known = {}
for i = 1, #ARGV do known[ARGV[i]] = (known[ARGV[i]] or 0) + 1 end
local items = redis.call('LRANGE', KEYS[1], 0, -1)
local moved = 0
for i = #items, 1, -1 do
  local v = items[i]
  if known[v] and known[v] > 0 then
    known[v] = known[v] - 1
  else
    redis.call('LREM', KEYS[1], -1, v)
    redis.call('RPUSH', KEYS[2], v)
    moved = moved + 1
  end
end
return moved`,
};

export const LIST_LENGTHS = {
  // KEYS[1] queue, KEYS[2] consumers set | ARGV[1] processing-list prefix ("{queue}:processing:")
  // Returns {LLEN queue, consumer1, LLEN processing1, consumer2, LLEN processing2, ...}: the queue and
  // every registered consumer's processing list in one call, for the queue-length gauges.
  numberOfKeys: 2,
  lua: `
local out = {redis.call('LLEN', KEYS[1])}
for _, consumer in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  out[#out + 1] = consumer
  out[#out + 1] = redis.call('LLEN', ARGV[1] .. consumer)
end
return out`,
};

export interface PythiaCommands {
  pythiaListReconcile(processing: string, queue: string, ...known: (Buffer | string)[]): Promise<number>;
  pythiaListFetch(queue: string, processing: string, max: number): Promise<string[]>;
  pythiaListFetchBuffer(queue: string, processing: string, max: number): Promise<Buffer[]>;
  pythiaListAck(processing: string, payloads: Buffer, lengths: string): Promise<number>;
  pythiaListRecover(queue: string, processing: string, heartbeat: string, consumers: string, consumer: string, force: '0' | '1'): Promise<number>;
}

export type ScriptedClient = RedisClient & PythiaCommands;

export function withScripts(client: RedisClient): ScriptedClient {
  client.defineCommand('pythiaListFetch', LIST_FETCH);
  client.defineCommand('pythiaListAck', LIST_ACK);
  client.defineCommand('pythiaListRecover', LIST_RECOVER);
  client.defineCommand('pythiaListReconcile', LIST_RECONCILE);
  return client as ScriptedClient;
}
