import type { RedisClient } from './connection.ts';

/**
 * Lua scripts. Each script's KEYS share one hash slot (see keys.ts), so they run on Redis Cluster.
 * ioredis sends EVALSHA and falls back to EVAL after NOSCRIPT (e.g. after a Redis restart).
 */
export const LIST_FETCH = {
  // KEYS[1] queue, KEYS[2] processing hash, KEYS[3] delivery counts (hash), KEYS[4] id counter
  // ARGV[1] max items, ARGV[2] message.max_bytes, ARGV[3] byte budget of this fetch, ARGV[4] 'left' to
  // take from the left (source.list.pop_from; anything else: the right)
  // Takes up to ARGV[1] items from that end (the oldest, with producers pushing to the other end) and records each in this
  // consumer's processing hash under an id of its own (from the queue's counter) in one atomic step,
  // so a crash right after leaves them recoverable, and one finished item is acknowledged by HDEL of
  // its id: O(1), however many items are in flight.
  // Reply: {first id - 1, counts or 0, item or {size}, ...}: the items have ids first..first+n-1.
  // Memory: items beyond the byte budget go back to the queue (at least one item is taken), and an
  // item larger than max_bytes is returned as {size}, not its bytes: it stays in the processing hash
  // until the worker dead-letters it (it loads it by its id).
  // Delivery counts: only when the hash exists (some item was recovered from a crashed consumer) is
  // the second element the recoveries of each returned item, in order.
  numberOfKeys: 4,
  lua: `
local left = ARGV[4] == 'left'
local items = redis.call(left and 'LPOP' or 'RPOP', KEYS[1], ARGV[1])
if not items then return {} end
local maxBytes = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local n = #items
if n * (maxBytes + 1) > budget then
  local used = 0
  for i = 1, n do
    used = used + math.min(#items[i], maxBytes + 1)
    if used > budget and i > 1 then
      for j = n, i, -1 do redis.call(left and 'LPUSH' or 'RPUSH', KEYS[1], items[j]) end
      n = i - 1
      break
    end
  end
end
local base = redis.call('INCRBY', KEYS[4], n) - n
local out = {base, 0}
local args = {}
for i = 1, n do
  local item = items[i]
  args[#args + 1] = string.format('%d', base + i)
  args[#args + 1] = item
  if #args >= 1000 then
    redis.call('HSET', KEYS[2], unpack(args))
    args = {}
  end
  if #item > maxBytes then out[i + 2] = {#item} else out[i + 2] = item end
end
if #args > 0 then redis.call('HSET', KEYS[2], unpack(args)) end
if redis.call('EXISTS', KEYS[3]) == 1 then
  local counts = {}
  for i = 1, n do counts[i] = tonumber(redis.call('HGET', KEYS[3], redis.sha1hex(items[i])) or '0') end
  out[2] = counts
end
return out`,
};

export const LIST_POP = {
  // KEYS[1] queue, KEYS[2] this consumer's oversized items (a hash of id -> item), KEYS[3] the queue's id
  // counter | ARGV[1] max items, ARGV[2] message.max_bytes, ARGV[3] byte budget of this fetch,
  // ARGV[4] 'left' to pop from the left
  // At-most-once RPOP (LPOP) that checks sizes inside Redis: items beyond the byte budget go back to the
  // queue (at least one item is taken), and an item larger than max_bytes is set aside in KEYS[2] under
  // an id from the counter and returned as {size, id}: the worker loads it (HGET) only to dead-letter it,
  // then deletes it (HDEL). A reply lost on the way is not the end of such an item: after a reconnect
  // the worker hands back what it does not know it holds (LIST_RECONCILE).
  numberOfKeys: 3,
  lua: `
local left = ARGV[4] == 'left'
local items = redis.call(left and 'LPOP' or 'RPOP', KEYS[1], ARGV[1])
if not items then return {} end
local maxBytes = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local used = 0
for i = 1, #items do
  local size = #items[i]
  used = used + (size > maxBytes and maxBytes + 1 or size)
  if used > budget and i > 1 then
    for j = #items, i, -1 do
      redis.call(left and 'LPUSH' or 'RPUSH', KEYS[1], items[j])
      items[j] = nil
    end
    break
  end
  if size > maxBytes then
    local id = redis.call('INCRBY', KEYS[3], 1)
    redis.call('HSET', KEYS[2], id, items[i])
    items[i] = {size, id}
  end
end
return items`,
};

export const LIST_SET_ASIDE = {
  // KEYS[1] this consumer's oversized items (a hash), KEYS[2] the queue's id counter | ARGV[1] an item
  // An oversized item a blocking pop brought whole, set aside like LIST_POP does: its id.
  numberOfKeys: 2,
  lua: `
local id = redis.call('INCRBY', KEYS[2], 1)
redis.call('HSET', KEYS[1], id, ARGV[1])
return id`,
};

export const STREAM_READ = {
  // KEYS[1] stream | ARGV[1] group, ARGV[2] consumer, ARGV[3] max entries, ARGV[4] message.max_bytes,
  // ARGV[5] byte budget of this fetch
  // XREADGROUP (never BLOCK: not allowed in a script) that checks sizes inside Redis. Each entry comes
  // back whole, or as {id, size} with no fields: when its body (the whole entry without a body field)
  // is larger than max_bytes, or when it falls beyond the byte budget (at least one entry is sent
  // whole), then {id, size, 1} or {id, size, 0}. Either way it is pending for this consumer: the
  // worker reads it later with XRANGE id id (an oversized one only for its dead letter).
  numberOfKeys: 1,
  lua: `
local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], '>')
if not reply then return {} end
local entries = reply[1][2]
local maxBytes = tonumber(ARGV[4])
local budget = tonumber(ARGV[5])
local used = 0
for i = 1, #entries do
  local fields = entries[i][2]
  local total = 0
  local body
  for j = 1, #fields, 2 do
    total = total + #fields[j] + #fields[j + 1]
    if body == nil and fields[j] == 'body' then body = #fields[j + 1] end
  end
  used = used + math.min(total, maxBytes + 1)
  if (body or total) > maxBytes then
    entries[i] = {entries[i][1], total, 1}
  elseif used > budget and i > 1 then
    entries[i] = {entries[i][1], total, 0}
  end
end
return entries`,
};

export const LIST_ACK_COUNTED = {
  // KEYS[1] processing hash, KEYS[2] delivery counts | ARGV ids of finished items that were recovered before
  // The acknowledgement of items whose delivery was counted (recovered from a crashed consumer): their
  // count goes with them, in the same atomic step. (Other items are acknowledged by a plain HDEL.)
  numberOfKeys: 2,
  lua: `
for i = 1, #ARGV do
  local item = redis.call('HGET', KEYS[1], ARGV[i])
  if item then
    redis.call('HDEL', KEYS[2], redis.sha1hex(item))
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return #ARGV`,
};

/**
 * Lua: the items of a processing hash (or of a processing list written by an earlier version), oldest
 * last; a hash's fields are ids from the queue's counter, so their order is the order of the fetches.
 */
const PROCESSING_ITEMS = `
local function processingItems(key)
  local kind = redis.call('TYPE', key).ok
  if kind == 'list' then return redis.call('LRANGE', key, 0, -1) end
  if kind ~= 'hash' then return {} end
  local flat = redis.call('HGETALL', key)
  local entries = {}
  for i = 1, #flat, 2 do entries[#entries + 1] = {tonumber(flat[i]), flat[i + 1]} end
  table.sort(entries, function(a, b) return a[1] > b[1] end)
  local items = {}
  for i = 1, #entries do items[i] = entries[i][2] end
  return items
end
`;

/** Lua: the number of items in a processing hash (or list, from an earlier version). */
const PROCESSING_LENGTH_FN = `
local function processingLength(key)
  local kind = redis.call('TYPE', key).ok
  if kind == 'hash' then return redis.call('HLEN', key) end
  if kind == 'list' then return redis.call('LLEN', key) end
  return 0
end
`;

export const LIST_RECOVER = {
  // KEYS[1] queue, KEYS[2] processing hash, KEYS[3] heartbeat, KEYS[4] consumers set, KEYS[5] delivery counts
  // ARGV[1] consumer name, ARGV[2] '1' to recover even with a live heartbeat (our own hash at start-up),
  // ARGV[3] '1' to count a delivery for each item (its worker died with it), ARGV[4] ms the counts are kept,
  // ARGV[5] 'left' when consumers take from the left (source.list.pop_from)
  // Moves a dead consumer's items back to the end of the queue consumers take from, oldest outermost,
  // so they are next, in the order they were first taken.
  // Counts are keyed by the payload's SHA-1: identical payloads share one count.
  numberOfKeys: 5,
  lua: `${PROCESSING_ITEMS}
if ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local items = processingItems(KEYS[2])
local push = ARGV[5] == 'left' and 'LPUSH' or 'RPUSH'
for i = 1, #items, 1000 do
  redis.call(push, KEYS[1], unpack(items, i, math.min(i + 999, #items)))
end
if ARGV[3] == '1' and #items > 0 then
  for i = 1, #items do redis.call('HINCRBY', KEYS[5], redis.sha1hex(items[i]), 1) end
  redis.call('PEXPIRE', KEYS[5], ARGV[4])
end
redis.call('DEL', KEYS[2])
if ARGV[2] ~= '1' then redis.call('SREM', KEYS[4], ARGV[1]) end
return #items`,
};

export const LIST_RECONCILE = {
  // KEYS[1] processing hash, KEYS[2] queue | ARGV[1] 'left' when consumers take from the left (items go
  // back to that end), ARGV[2..n] ids this consumer knows are in flight
  // After a reconnect, a fetch whose reply was lost may have moved items nobody is working on: every
  // item of the processing hash whose id is not known goes back to the end of the queue consumers take
  // from (oldest outermost, so they are next), oversized ones included (they come back as markers).
  // At-most-once consumers run it on their oversized hash (see LIST_POP): after a reconnect, at start
  // (a consumer name of a previous run) and at a clean stop, with what they still hold as known.
  numberOfKeys: 2,
  lua: `
local push = ARGV[1] == 'left' and 'LPUSH' or 'RPUSH'
local known = {}
for i = 2, #ARGV do known[ARGV[i]] = true end
local flat = redis.call('HGETALL', KEYS[1])
local lost = {}
for i = 1, #flat, 2 do
  if not known[flat[i]] then lost[#lost + 1] = {tonumber(flat[i]), flat[i + 1], flat[i]} end
end
table.sort(lost, function(a, b) return a[1] > b[1] end)
for i = 1, #lost do
  redis.call(push, KEYS[2], lost[i][2])
  redis.call('HDEL', KEYS[1], lost[i][3])
end
return #lost`,
};

export const LIST_LENGTHS = {
  // KEYS[1] queue, KEYS[2] consumers set | ARGV[1] processing-key prefix ("{queue}:processing:")
  // Returns {LLEN queue, consumer1, in processing1, consumer2, in processing2, ...}: the queue and
  // every registered consumer's processing hash in one call, for the queue-length gauges.
  numberOfKeys: 2,
  lua: `${PROCESSING_LENGTH_FN}
local out = {redis.call('LLEN', KEYS[1])}
for _, consumer in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  out[#out + 1] = consumer
  out[#out + 1] = processingLength(ARGV[1] .. consumer)
end
return out`,
};

export const PROCESSING_LENGTH = {
  // KEYS[1] a consumer's processing hash (or list, from an earlier version): its number of items.
  numberOfKeys: 1,
  lua: `${PROCESSING_LENGTH_FN}
return processingLength(KEYS[1])`,
};

/** The end of a source list consumers take from (source.list.pop_from); scripts default to the right. */
export type PopSide = 'left' | 'right';

/**
 * A fetched item: its bytes, or its size (and, from the at-most-once pop, its id in the consumer's
 * oversized hash) when it is larger than message.max_bytes (see LIST_FETCH, LIST_POP).
 */
export type FetchedItem = Buffer | [size: number, id?: number];

/** The at-least-once fetch's reply: the id before the first item's, the recovery counts (0: none recorded), the items. */
export type FetchReply = [] | [number, number[] | 0, ...FetchedItem[]];

export interface PythiaCommands {
  pythiaListReconcile(processing: string, queue: string, side: PopSide, ...known: string[]): Promise<number>;
  pythiaListFetchBuffer(
    queue: string,
    processing: string,
    deliveries: string,
    ids: string,
    max: number,
    maxBytes: number,
    budget: number,
    side?: PopSide,
  ): Promise<FetchReply>;
  /** At-most-once pop: items, or {size, id} for an item set aside in the consumer's oversized hash. */
  pythiaListPopBuffer(
    queue: string,
    oversized: string,
    ids: string,
    max: number,
    maxBytes: number,
    budget: number,
    side?: PopSide,
  ): Promise<FetchedItem[]>;
  /** Entries [id, fields], or [id, total size] for entries left pending and not sent (see STREAM_READ). */
  pythiaStreamReadBuffer(
    stream: string,
    group: string,
    consumer: string,
    max: number,
    maxBytes: number,
    budget: number,
  ): Promise<[Buffer, Buffer[] | number, (0 | 1)?][]>;
  pythiaListSetAside(oversized: string, ids: string, item: Buffer): Promise<number>;
  pythiaListAckCounted(processing: string, deliveries: string, ...ids: string[]): Promise<number>;
  pythiaListRecover(
    queue: string,
    processing: string,
    heartbeat: string,
    consumers: string,
    deliveries: string,
    consumer: string,
    force: '0' | '1',
    count: '0' | '1',
    keepMs: number,
    side?: PopSide,
  ): Promise<number>;
}

export type ScriptedClient = RedisClient & PythiaCommands;

export function withScripts(client: RedisClient): ScriptedClient {
  client.defineCommand('pythiaListFetch', LIST_FETCH);
  client.defineCommand('pythiaListPop', LIST_POP);
  client.defineCommand('pythiaStreamRead', STREAM_READ);
  client.defineCommand('pythiaListSetAside', LIST_SET_ASIDE);
  client.defineCommand('pythiaListAckCounted', LIST_ACK_COUNTED);
  client.defineCommand('pythiaListRecover', LIST_RECOVER);
  client.defineCommand('pythiaListReconcile', LIST_RECONCILE);
  return client as ScriptedClient;
}
