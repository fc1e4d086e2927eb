import type { RedisClient } from './connection.ts';

/**
 * Lua scripts of flow control (src/flow/): the shared rate limiter and the per-key order of
 * `ordering`. Every key of one call shares the source key's hash tag (see flowKeys in keys.ts), so
 * they run on Redis Cluster. ioredis sends EVALSHA and falls back to EVAL after NOSCRIPT, so a
 * restarted Redis gets them back by itself; a lost limiter state is re-created as a fresh one.
 */
export const RATE_TAKE = {
  // KEYS[1] limiter state (the theoretical arrival time, µs) | ARGV[1] µs between permits,
  // ARGV[2] burst tolerance (µs), ARGV[3] permits wanted, ARGV[4] permits given back first (unused)
  // GCRA: permit k may be granted while TAT + (k-1)*interval - now <= tolerance. Grants up to
  // ARGV[3] at once; returns {granted, ms until the next permit when none was granted}. The clock
  // is Redis's (TIME): every worker reads the same one, whatever their own clocks say.
  numberOfKeys: 1,
  lua: `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') - tonumber(ARGV[4]) * interval
if tat < now then tat = now end
local granted = math.floor((now + tolerance - tat) / interval) + 1
if granted > tonumber(ARGV[3]) then granted = tonumber(ARGV[3]) end
if granted < 0 then granted = 0 end
tat = tat + granted * interval
if tat > now then
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
else
  redis.call('DEL', KEYS[1])
end
if granted > 0 then return {granted, 0} end
return {0, math.ceil((tat - tolerance - now) / 1000)}`,
};

export const ORDER_LOCK = {
  // KEYS[1] fetch lock, KEYS[2] the worker next in line | ARGV[1] lock token, ARGV[2] this worker's
  // instance, ARGV[3] lock TTL ms
  // Takes the fetch lock (1) unless it is held or another worker is next in line (0). A worker that
  // finds it taken marks itself next (for 100 ms, renewed by each try), so a worker fetching without
  // pause cannot keep the lock from the others.
  numberOfKeys: 2,
  lua: `
local nxt = redis.call('GET', KEYS[2])
if redis.call('EXISTS', KEYS[1]) == 1 or (nxt and nxt ~= ARGV[2]) then
  if not nxt then
    redis.call('SET', KEYS[2], ARGV[2], 'PX', 100)
  elseif nxt == ARGV[2] then
    redis.call('PEXPIRE', KEYS[2], 100)
  end
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
if nxt then redis.call('DEL', KEYS[2]) end
return 1`,
};

export const ORDER_REGISTER = {
  // KEYS[1] fetch lock, KEYS[2] this worker's owner mark, KEYS[3..n] the queue of each new ticket
  // ARGV[1] lock token, ARGV[2] the ordering prefix (flowKeys.ordering), ARGV[3] this worker's
  // instance, ARGV[4] its mark's TTL ms, ARGV[5] ms an unused queue is kept, ARGV[6..] the tickets
  // ("<instance>:<n>:<message identity>"), one per KEYS[3..], in fetch order
  // Queues each ticket and releases the fetch lock (if still ours). A message coming back (requeued
  // at a stop, recovered after a crash) takes over the ticket its dead worker left, keeping its place;
  // any other ticket is appended. Returns {1 if the lock was still ours, then per ticket: 0 when only
  // this worker's tickets are ahead of it, 2 when it comes right after the ticket before it in this
  // fetch (appended too), else 1: another worker's ticket is ahead, or it took over a place}.
  // A queue longer than 1024 is not scanned: nothing is taken over, and its tickets count as waiting.
  lua: `
local prefix = ARGV[2]
local mine = ARGV[3] .. ':'
local held = redis.call('GET', KEYS[1]) == ARGV[1]
local out = {held and 1 or 0}
local alive = {}
local function isAlive(owner)
  if alive[owner] == nil then alive[owner] = redis.call('EXISTS', prefix .. 'owner:' .. owner) == 1 end
  return alive[owner]
end
local queues = {}
for i = 3, #KEYS do
  local q = KEYS[i]
  local ticket = ARGV[i + 3]
  local state = queues[q]
  if state == nil then
    local len = redis.call('LLEN', q)
    state = {long = len > 1024, entries = {}, foreign = len > 1024}
    if not state.long and len > 0 then state.entries = redis.call('LRANGE', q, 0, -1) end
    for _, e in ipairs(state.entries) do
      if string.sub(e, 1, #mine) ~= mine then state.foreign = true end
    end
    queues[q] = state
  end
  local identity = string.match(ticket, '^[^:]+:[^:]+:(.*)$')
  local adopted = nil
  if state.foreign and not state.long and identity then
    local suffix = ':' .. identity
    for idx, e in ipairs(state.entries) do
      local owner = string.match(e, '^([^:]+):')
      if owner and string.sub(e, -#suffix) == suffix and string.sub(e, 1, #mine) ~= mine and not isAlive(owner) then
        adopted = idx
        break
      end
    end
  end
  if adopted then
    redis.call('LSET', q, adopted - 1, ticket)
    state.entries[adopted] = ticket
    state.appended = false
    out[#out + 1] = 1
  else
    redis.call('RPUSH', q, ticket)
    if not state.long then state.entries[#state.entries + 1] = ticket end
    out[#out + 1] = (not state.foreign) and 0 or (state.appended and 2 or 1)
    state.appended = true
  end
end
for q in pairs(queues) do redis.call('PEXPIRE', q, ARGV[5]) end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[4])
if held then redis.call('DEL', KEYS[1]) end
return out`,
};

export const ORDER_HEADS = {
  // KEYS[1..n] queues | ARGV[1] the ordering prefix, ARGV[2] max_in_flight_per_key, ARGV[3] lease_ttl_ms,
  // ARGV[4..] a ticket per queue
  // Per ticket: 1 when it is among the first ARGV[2] of its queue (its message may run), 0 when it
  // must wait, 2 when it is gone (dropped while this worker's mark had expired). A ticket of a
  // worker whose mark is gone (crashed, stopped, or cut off from Redis) is kept for lease_ttl_ms,
  // counted from when a worker first saw it orphaned, so its message can come back and take it over
  // (ORDER_REGISTER); then it is dropped from the front, and the key moves on.
  lua: `
local prefix = ARGV[1]
local n = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expired = {}
local function isExpired(owner)
  if expired[owner] == nil then
    if redis.call('EXISTS', prefix .. 'owner:' .. owner) == 1 then
      expired[owner] = false
    else
      local stamp = prefix .. 'orphan:' .. owner
      redis.call('SET', stamp, now, 'NX', 'PX', lease * 4)
      expired[owner] = now - tonumber(redis.call('GET', stamp)) >= lease
    end
  end
  return expired[owner]
end
local out = {}
for i = 1, #KEYS do
  local q = KEYS[i]
  local ticket = ARGV[i + 3]
  local result
  while result == nil do
    if redis.call('LPOS', q, ticket, 'MAXLEN', n) then
      result = 1
    else
      local dropped = false
      for _, t in ipairs(redis.call('LRANGE', q, 0, n - 1)) do
        local owner = string.match(t, '^([^:]+):')
        if owner == nil or isExpired(owner) then
          redis.call('LREM', q, 1, t)
          dropped = true
        end
      end
      if not dropped then result = redis.call('LPOS', q, ticket) and 0 or 2 end
    end
  end
  out[i] = result
end
return out`,
};

export const ORDER_RELEASE = {
  // KEYS[1..n] queues | ARGV[1..n] a ticket per queue
  // Removes finished (or abandoned) tickets: usually the first of their queue, so LPOP.
  lua: `
for i = 1, #KEYS do
  local q = KEYS[i]
  if redis.call('LINDEX', q, 0) == ARGV[i] then redis.call('LPOP', q) else redis.call('LREM', q, 1, ARGV[i]) end
end
return #KEYS`,
};

export interface FlowCommands {
  pythiaOrderLock(lock: string, next: string, token: string, instance: string, ttlMs: number): Promise<number>;
  /** [granted, ms until the next permit when none was granted]. */
  pythiaRateTake(state: string, intervalUs: number, toleranceUs: number, wanted: number, returned: number): Promise<[number, number]>;
  /** [lock still held, then per ticket: another worker's ticket ahead]. The key count is given first. */
  pythiaOrderRegister(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
  pythiaOrderHeads(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
  pythiaOrderRelease(numKeys: number, ...args: string[]): Promise<number>;
}

export type FlowClient = RedisClient & FlowCommands;

export function withFlowScripts(client: RedisClient): FlowClient {
  client.defineCommand('pythiaRateTake', RATE_TAKE);
  client.defineCommand('pythiaOrderLock', ORDER_LOCK);
  // Variable key counts: the count comes as the first argument.
  client.defineCommand('pythiaOrderRegister', { lua: ORDER_REGISTER.lua });
  client.defineCommand('pythiaOrderHeads', { lua: ORDER_HEADS.lua });
  client.defineCommand('pythiaOrderRelease', { lua: ORDER_RELEASE.lua });
  return client as FlowClient;
}
