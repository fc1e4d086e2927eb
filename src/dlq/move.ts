import { keySlot } from '../redis/slots.ts';
import type { RedisClient } from '../redis/connection.ts';
import type { DeadLetterLocation, ReplayTarget } from './location.ts';
import type { StoredEntry } from './read.ts';
import { resend, streamFields, wirePayload, type Resendable } from './resend.ts';

/**
 * Moves one dead letter back into the source in one atomic step: if the entry is still in the dead
 * letter, re-send it and remove it; if it is gone (another `pythia dlq replay` took it), do nothing.
 * Two replays racing over the same entries therefore send each entry exactly once, and a crash of the
 * replaying process leaves every entry either still dead-lettered or re-sent, never both, never neither.
 *
 * KEYS[1] dead letter, KEYS[2] target list or stream (the dead letter again for a channel: no key)
 * ARGV[1] 'list' | 'stream' (dead letter kind), ARGV[2] the stored element (list) or entry id (stream)
 * ARGV[3] 'list' | 'stream' | 'channel' (target kind), ARGV[4] the channel, or for a list the push
 * command ('RPUSH' when the source pops from the left, else LPUSH: either way the end taken last)
 * ARGV[5] how far from the tail a list entry can be (see StoredEntry.offset), ARGV[6..] the payload
 * (list, channel) or the stream entry's field/value pairs
 * Returns 1 moved, 0 already gone, -1 published to nobody (kept), or the target's error reply (kept).
 * LPOS searches from the tail, where the oldest dead letters (replayed first) sit, and no further than
 * the entry can be: an entry a concurrent replay took costs a short search, not a scan of the list.
 */
const DLQ_MOVE = {
  numberOfKeys: 2,
  lua: `
local present
if ARGV[1] == 'list' then
  present = redis.call('LPOS', KEYS[1], ARGV[2], 'RANK', -1, 'MAXLEN', ARGV[5])
else
  present = #redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2]) > 0
end
if not present then return 0 end
local sent
if ARGV[3] == 'list' then
  sent = redis.pcall(ARGV[4] == 'RPUSH' and 'RPUSH' or 'LPUSH', KEYS[2], ARGV[6])
elseif ARGV[3] == 'stream' then
  sent = redis.pcall('XADD', KEYS[2], '*', unpack(ARGV, 6))
else
  sent = redis.pcall('PUBLISH', ARGV[4], ARGV[6])
  if sent == 0 then return -1 end
end
if type(sent) == 'table' and sent.err then return sent end
if ARGV[1] == 'list' then
  redis.call('LREM', KEYS[1], -1, ARGV[2])
else
  redis.call('XDEL', KEYS[1], ARGV[2])
end
return 1`,
};

/**
 * KEYS[1] dead letter | ARGV[1] element (list) or entry id (stream), ARGV[2] search limit for a list
 * ('' for a stream). Removes exactly that entry if present; returns how many were removed (0 or 1).
 */
const DLQ_CLAIM = {
  numberOfKeys: 1,
  lua: `
if ARGV[2] == '' then return redis.call('XDEL', KEYS[1], ARGV[1]) end
if not redis.call('LPOS', KEYS[1], ARGV[1], 'RANK', -1, 'MAXLEN', ARGV[2]) then return 0 end
return redis.call('LREM', KEYS[1], -1, ARGV[1])`,
};

interface ClaimCommands {
  pythiaDlqClaim(dead: string, identity: string | Buffer, limit: string): Promise<number>;
}

interface MoveCommands {
  pythiaDlqMove(dead: string, target: string, ...args: (string | Buffer)[]): Promise<number>;
}

export type MoveResult = 'moved' | 'gone' | { error: string };

const NOBODY = 'no subscriber received the PUBLISH (is the worker running?)';

/**
 * Moves a batch of entries (one pipelined round trip). On Redis Cluster the script needs the dead
 * letter and the source in one hash slot; when they are not, see moveAcrossSlots.
 */
export async function moveEntries(
  client: RedisClient,
  location: DeadLetterLocation,
  target: ReplayTarget,
  batch: readonly (StoredEntry & Resendable)[],
): Promise<MoveResult[]> {
  if (batch.length === 0) return [];
  const results: (MoveResult | undefined)[] = new Array(batch.length);
  const targetKey = target.kind === 'channel' ? location.key : target.key;
  if (client.isCluster && keySlot(targetKey) !== keySlot(location.key)) return moveAcrossSlots(client, location, target, batch);
  if (!('pythiaDlqMove' in client)) client.defineCommand('pythiaDlqMove', DLQ_MOVE);
  const scripted = client as RedisClient & MoveCommands;
  const pipe = scripted.pipeline() as unknown as MoveCommands & { exec(): Promise<[Error | null, unknown][] | null> };
  const sent: number[] = [];
  for (const [i, stored] of batch.entries()) {
    const send = sendArgs(target, stored);
    if (typeof send === 'string') {
      results[i] = { error: send };
      continue;
    }
    const [where, ...what] = send;
    void pipe.pythiaDlqMove(
      location.key,
      targetKey,
      location.kind,
      identity(location, stored),
      target.kind,
      where as string,
      searchLimit(stored),
      ...what,
    );
    sent.push(i);
  }
  const replies = sent.length > 0 ? ((await pipe.exec()) ?? []) : [];
  for (const [n, i] of sent.entries()) {
    const [error, reply] = replies[n] ?? [new Error('no reply'), undefined];
    if (error) results[i] = { error: error.message };
    else if (reply === 1) results[i] = 'moved';
    else if (reply === 0) results[i] = 'gone';
    else results[i] = { error: NOBODY };
  }
  return results as MoveResult[];
}

/** How many elements from the tail a search for a list entry must look at (0: all). */
function searchLimit(stored: StoredEntry): string {
  return String(stored.offset === undefined ? 0 : stored.offset + 1);
}

/** The element (list) or entry id (stream) that names the entry in its dead letter. */
function identity(location: DeadLetterLocation, stored: StoredEntry): string | Buffer {
  return location.kind === 'list' ? (stored.element as Buffer) : stored.id;
}

/** ARGV[4..] of the script for this entry, or why it cannot be sent. */
function sendArgs(target: ReplayTarget, { entry, payload }: Resendable): (string | Buffer)[] | string {
  switch (target.kind) {
    case 'list':
      // A Python Pythia envelope goes back as delivered; other headers travel in the native envelope.
      return [target.push === 'right' ? 'RPUSH' : 'LPUSH', wirePayload(entry, payload)];
    case 'stream':
      // Untrimmed, like resend.ts: a MAXLEN here would remove entries no worker has read.
      return ['', ...streamFields(entry, payload)];
    case 'channel': {
      const channel = entry.source.kind === 'channel' && entry.source.channel ? entry.source.channel : target.channels[0];
      if (channel === undefined) return 'the pipeline subscribes only to patterns and the entry names no channel: nowhere to publish it';
      return [channel, wirePayload(entry, payload)];
    }
  }
}

/**
 * Redis Cluster with the dead letter and the source in different slots: no script can touch both.
 * Each entry is claimed first (LREM/XDEL of exactly it: the one replay whose removal counted 1 owns
 * it, so racing replays still never duplicate), then re-sent; an entry whose re-send failed is put
 * back at the oldest end. The price: a replay killed between claim and re-send loses that batch.
 * A dead letter named after the source's slot (source `orders`, dead letter `{orders}:dead`) gets the atomic path.
 */
async function moveAcrossSlots(
  client: RedisClient,
  location: DeadLetterLocation,
  target: ReplayTarget,
  batch: readonly (StoredEntry & Resendable)[],
): Promise<MoveResult[]> {
  if (!('pythiaDlqClaim' in client)) client.defineCommand('pythiaDlqClaim', DLQ_CLAIM);
  const claim = client.pipeline() as unknown as ClaimCommands & { exec(): Promise<[Error | null, unknown][] | null> };
  for (const stored of batch) {
    if (location.kind === 'list') void claim.pythiaDlqClaim(location.key, stored.element as Buffer, searchLimit(stored));
    else void claim.pythiaDlqClaim(location.key, stored.id, '');
  }
  const claimed = (await claim.exec()) ?? [];
  const failure = claimed.find(([error]) => error);
  if (failure) throw new Error(`could not claim entries of ${location.kind} ${location.key}: ${failure[0]?.message}`);
  const results: MoveResult[] = batch.map((_, i) => (Number(claimed[i]?.[1]) > 0 ? 'moved' : 'gone'));
  const owned = batch.filter((_, i) => results[i] === 'moved');
  const sent = await resend(client, target, owned);
  const putBack = client.pipeline();
  let failed = 0;
  let n = 0;
  for (const [i, result] of results.entries()) {
    if (result !== 'moved') continue;
    const outcome = sent[n++];
    if (!outcome || outcome.ok) continue;
    results[i] = { error: outcome.error };
    const stored = batch[i] as StoredEntry;
    if (location.kind === 'list') putBack.rpush(location.key, stored.element as Buffer);
    else putBack.call('XADD', location.key, '*', ...(stored.stored ?? []));
    failed++;
  }
  if (failed > 0) await putBack.exec();
  return results;
}
