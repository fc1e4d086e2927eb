import type { RedisClient } from '../redis/connection.ts';
import type { DeadLetterLocation, ReplayTarget } from './location.ts';
import { lastStreamId, listPage, scanEntries, streamPage, type StoredEntry } from './read.ts';
import { resend, type Resendable } from './resend.ts';

export interface ReplayOptions {
  /** The pipeline replaying: only its own entries are replayed (a dead letter may be shared). */
  pipeline: string;
  /** Entry ids (see StoredEntry.id) or message ids; absent: every entry. */
  ids?: readonly string[];
  /** Entries per round trip. */
  chunk?: number;
}

export interface ReplayReport {
  replayed: StoredEntry[];
  /** Entries of other pipelines sharing this dead letter: left in place. */
  otherPipeline: number;
  /** Elements that are not dead-letter entries: left in place. */
  unreadable: number;
  /** Requested ids that matched nothing. */
  notFound: string[];
  /** Requested ids that matched several entries' message_id (use the entry id). */
  ambiguous: { id: string; matches: string[] }[];
  /** Entries whose re-send failed: left in the dead letter. Replay stops at the first failing chunk. */
  failed: { entry: StoredEntry; error: string }[];
}

/**
 * Sends dead letters back into the pipeline's source, oldest first, and removes each from the dead
 * letter only after its re-send succeeded (a crash in between replays it twice rather than losing it).
 * Entries that arrive during the replay (such as a replayed message failing again) are not replayed.
 */
export async function replayDeadLetters(client: RedisClient, location: DeadLetterLocation, target: ReplayTarget, options: ReplayOptions): Promise<ReplayReport> {
  const report: ReplayReport = { replayed: [], otherPipeline: 0, unreadable: 0, notFound: [], ambiguous: [], failed: [] };
  const chunk = options.chunk ?? 500;
  const select = (page: StoredEntry[]): StoredEntry[] =>
    page.filter((stored) => {
      if (!stored.entry || !stored.payload) return (report.unreadable++, false);
      if (stored.entry.pipeline !== options.pipeline) return (report.otherPipeline++, false);
      return true;
    });

  if (options.ids) {
    const wanted = await findByIds(client, location, options.ids, report);
    await replayBatch(client, location, target, select(wanted), report);
    return report;
  }

  if (location.kind === 'list') {
    // Oldest first from the tail; what is left in place is skipped over on the next page.
    const total = await client.llen(location.key);
    let kept = 0;
    for (let visited = 0; visited < total; ) {
      const page = await listPage(client, location.key, kept, Math.min(chunk, total - visited));
      if (page.length === 0) break;
      visited += page.length;
      const removed = await replayBatch(client, location, target, select(page), report);
      kept += page.length - removed;
      if (report.failed.length > 0) break;
    }
    return report;
  }

  const last = await lastStreamId(client, location.key);
  if (last === undefined) return report;
  for (let after = '-'; ; ) {
    const page = await streamPage(client, location.key, after, chunk, last);
    if (page.length === 0) break;
    after = (page[page.length - 1] as StoredEntry).id;
    await replayBatch(client, location, target, select(page), report);
    if (report.failed.length > 0) break;
  }
  return report;
}

/** Entries matching the ids: an entry id, or a message_id that names exactly one entry. */
async function findByIds(client: RedisClient, location: DeadLetterLocation, ids: readonly string[], report: ReplayReport): Promise<StoredEntry[]> {
  const byId = new Map<string, StoredEntry>();
  const byMessageId = new Map<string, StoredEntry[]>();
  const wanted = new Set(ids);
  for await (const stored of scanEntries(client, location)) {
    if (wanted.has(stored.id)) byId.set(stored.id, stored);
    const messageId = stored.entry?.message_id;
    if (messageId !== undefined && wanted.has(messageId)) byMessageId.set(messageId, [...(byMessageId.get(messageId) ?? []), stored]);
  }
  const found: StoredEntry[] = [];
  const seen = new Set<string>();
  for (const id of new Set(ids)) {
    const exact = byId.get(id);
    const matches = exact ? [exact] : (byMessageId.get(id) ?? []);
    if (matches.length === 0) report.notFound.push(id);
    else if (matches.length > 1) report.ambiguous.push({ id, matches: matches.map((m) => m.id) });
    else if (!seen.has((matches[0] as StoredEntry).id)) {
      seen.add((matches[0] as StoredEntry).id);
      found.push(matches[0] as StoredEntry);
    }
  }
  return found;
}

/** Re-sends a batch, then removes the entries that were re-sent. Returns how many were removed. */
async function replayBatch(client: RedisClient, location: DeadLetterLocation, target: ReplayTarget, batch: StoredEntry[], report: ReplayReport): Promise<number> {
  if (batch.length === 0) return 0;
  const results = await resend(client, target, batch as (StoredEntry & Resendable)[]);
  const done: StoredEntry[] = [];
  for (const [i, result] of results.entries()) {
    const stored = batch[i] as StoredEntry;
    if (result.ok) done.push(stored);
    else report.failed.push({ entry: stored, error: result.error });
  }
  if (done.length === 0) return 0;
  const pipe = client.pipeline();
  for (const stored of done) {
    // LREM from the tail (count −1): the oldest copy of exactly these bytes, which is this one.
    if (location.kind === 'list') pipe.lrem(location.key, -1, stored.element as Buffer);
    else pipe.xdel(location.key, stored.id);
  }
  const replies = (await pipe.exec()) ?? [];
  const failure = replies.find(([error]) => error);
  if (failure) throw new Error(`replayed ${done.length} entries, but removing them from the dead letter failed (they will be replayed again next time): ${failure[0]?.message}`);
  report.replayed.push(...done);
  return done.length;
}
