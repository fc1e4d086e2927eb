import { createHash } from 'node:crypto';
import { DEAD_LETTER_REASONS, type DeadLetterEntry } from '../outputs/dead-letter.ts';
import type { RedisClient } from '../redis/connection.ts';
import type { DeadLetterLocation } from './location.ts';

/** One element of a dead letter as stored, with its entry decoded when it is one of ours. */
export interface StoredEntry {
  /**
   * How `pythia dlq` names the entry. Stream dead letters: the entry id in the dead-letter stream.
   * List dead letters: the first 16 hex digits of the SHA-256 of the stored element. Unlike an index it
   * does not shift when new dead letters arrive, and unlike message_id it is unique (list message ids
   * restart with each worker process that uses a fixed consumer name).
   */
  id: string;
  /** The list element exactly as stored: removing it after a replay is LREM of these bytes. */
  element?: Buffer;
  /** The decoded entry; undefined when the element is not a Pythia dead-letter entry. */
  entry?: DeadLetterEntry;
  /** The original payload bytes (a stream entry's `payload` field, else decoded from the JSON). */
  payload?: Buffer;
  /**
   * A list entry's distance from the tail when read. Dead letters are LPUSHed and replays only remove,
   * so it can only come closer: a search for it from the tail can stop after offset + 1 elements.
   */
  offset?: number;
  /** A stream entry's field/value pairs as stored (a replay across hash slots puts them back on failure). */
  stored?: Buffer[];
  /** Why `entry` is missing. */
  problem?: string;
}

export function listEntryId(element: Buffer): string {
  return createHash('sha256').update(element).digest('hex').slice(0, 16);
}

/** Decodes the JSON document of an entry; checks just enough of its shape to replay it safely. */
function decodeDocument(document: Buffer): { entry?: DeadLetterEntry; payload?: Buffer; problem?: string } {
  let value: unknown;
  try {
    value = JSON.parse(document.toString('utf8'));
  } catch (error) {
    return { problem: `not JSON: ${(error as Error).message}` };
  }
  const entry = value as Partial<DeadLetterEntry> | null;
  if (typeof entry !== 'object' || entry === null || typeof entry.payload !== 'string')
    return { problem: 'not a dead-letter entry: no payload' };
  if (!DEAD_LETTER_REASONS.includes(entry.reason as never))
    return { problem: `not a dead-letter entry: unknown reason ${JSON.stringify(entry.reason)}` };
  const payload = Buffer.from(entry.payload, entry.payload_encoding === 'base64' ? 'base64' : 'utf8');
  return { entry: entry as DeadLetterEntry, payload };
}

export function parseListElement(element: Buffer): StoredEntry {
  return { id: listEntryId(element), element, ...decodeDocument(element) };
}

export function parseStreamEntry(id: string, flat: Buffer[]): StoredEntry {
  let body: Buffer | undefined;
  let payload: Buffer | undefined;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = (flat[i] as Buffer).toString();
    if (name === 'body') body = flat[i + 1];
    else if (name === 'payload') payload = flat[i + 1];
  }
  if (!body) return { id, payload, problem: 'not a dead-letter entry: no body field' };
  const decoded = decodeDocument(body);
  // The payload field holds the raw bytes: it wins over the JSON copy.
  return { id, stored: flat, ...decoded, payload: decoded.entry ? (payload ?? decoded.payload) : undefined };
}

export async function countEntries(client: RedisClient, location: DeadLetterLocation): Promise<number> {
  return location.kind === 'list' ? client.llen(location.key) : client.xlen(location.key);
}

/**
 * Up to `count` entries of a list dead letter, oldest first, after its `skip` oldest. Dead letters are
 * LPUSHed, so the oldest are at the tail: offsets from the tail stay valid while new ones arrive.
 */
export async function listPage(client: RedisClient, key: string, skip: number, count: number): Promise<StoredEntry[]> {
  if (count <= 0) return [];
  // A start before the head is clamped to it, so a short list gives just what is left.
  const elements = await client.lrangeBuffer(key, -(skip + count), -(skip + 1));
  return elements.reverse().map((element, i) => ({ ...parseListElement(element), offset: skip + i }));
}

/** Up to `count` entries of a stream dead letter with ids after `after` ("-": from the start) up to `end`. */
export async function streamPage(client: RedisClient, key: string, after: string, count: number, end = '+'): Promise<StoredEntry[]> {
  if (count <= 0) return [];
  const start = after === '-' ? '-' : `(${after}`;
  const entries = await client.xrangeBuffer(key, start, end, 'COUNT', count);
  return entries.map(([id, flat]) => parseStreamEntry(id.toString(), flat));
}

/** Every entry, oldest first, `chunk` per round trip; entries arriving meanwhile are not included. */
export async function* scanEntries(client: RedisClient, location: DeadLetterLocation, chunk = 500): AsyncGenerator<StoredEntry> {
  if (location.kind === 'list') {
    const total = await client.llen(location.key);
    for (let skip = 0; skip < total;) {
      const page = await listPage(client, location.key, skip, Math.min(chunk, total - skip));
      if (page.length === 0) return;
      yield* page;
      skip += page.length;
    }
    return;
  }
  const last = await lastStreamId(client, location.key);
  if (last === undefined) return;
  for (let after = '-'; ;) {
    const page = await streamPage(client, location.key, after, chunk, last);
    if (page.length === 0) return;
    yield* page;
    after = (page[page.length - 1] as StoredEntry).id;
  }
}

/** The newest entry id of a stream (undefined when empty). */
export async function lastStreamId(client: RedisClient, key: string): Promise<string | undefined> {
  const newest = await client.xrevrange(key, '+', '-', 'COUNT', 1);
  return newest[0]?.[0];
}
