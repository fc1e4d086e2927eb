import type { RedisClient } from '../redis/connection.ts';
import type { DeadLetterLocation, ReplayTarget } from './location.ts';
import { moveEntries } from './move.ts';
import { lastStreamId, listPage, scanEntries, streamPage, type StoredEntry } from './read.ts';
import type { Resendable } from './resend.ts';

export interface ReplayOptions {
  /** The pipeline replaying: only its own entries are replayed (a dead letter may be shared). */
  pipeline: string;
  /** Entry ids (see StoredEntry.id) or message ids; absent: every entry. */
  ids?: readonly string[];
  /** Entries per round trip. */
  chunk?: number;
  /**
   * Called once per batch with the entries just moved back into the source. The report keeps only
   * counts, so a replay of any size holds one batch in memory.
   */
  onReplayed?: (batch: readonly StoredEntry[]) => void;
}

export interface ReplayReport {
  /** How many entries this replay moved back into the source. */
  replayed: number;
  /** Entries that were gone when this replay reached them: another replay (or a purge) took them. */
  alreadyGone: number;
  /** Entries of other pipelines sharing this dead letter: left in place. */
  otherPipeline: number;
  /** Elements that are not dead-letter entries: left in place. */
  unreadable: number;
  /** Requested ids that matched nothing. */
  notFound: string[];
  /** Requested ids that matched several entries' message_id (use the entry id). */
  ambiguous: { id: string; matches: string[] }[];
  /** Entries whose re-send failed: left in the dead letter. Replay stops at the first failing batch. */
  failed: { entry: StoredEntry; error: string }[];
}

/**
 * Sends dead letters back into the pipeline's source, oldest first, a batch at a time. Each entry
 * moves in one atomic script (see move.ts): re-sent only if still present, removed in the same step,
 * so concurrent replays split the entries between them without duplicates, and a crash of the
 * replay leaves no entry both re-sent and still dead-lettered. Entries that arrive during the replay
 * (such as a replayed message failing again) are not replayed.
 */
export async function replayDeadLetters(
  client: RedisClient,
  location: DeadLetterLocation,
  target: ReplayTarget,
  options: ReplayOptions,
): Promise<ReplayReport> {
  const report: ReplayReport = { replayed: 0, alreadyGone: 0, otherPipeline: 0, unreadable: 0, notFound: [], ambiguous: [], failed: [] };
  const chunk = options.chunk ?? 500;
  const select = (page: StoredEntry[]): StoredEntry[] =>
    page.filter((stored) => {
      if (!stored.entry || !stored.payload) return (report.unreadable++, false);
      if (stored.entry.pipeline !== options.pipeline) return (report.otherPipeline++, false);
      return true;
    });
  const replay = (batch: StoredEntry[]) => replayBatch(client, location, target, batch, report, options.onReplayed);

  if (options.ids) {
    const wanted = await findByIds(client, location, options.ids, report);
    await replay(select(wanted));
    return report;
  }

  if (location.kind === 'list') {
    // Oldest first from the tail; what is left in place is skipped over on the next page. Entries a
    // concurrent replay removes meanwhile only make pages shorter.
    const total = await client.llen(location.key);
    let kept = 0;
    for (let visited = 0; visited < total;) {
      const page = await listPage(client, location.key, kept, Math.min(chunk, total - visited));
      if (page.length === 0) break;
      visited += page.length;
      kept += page.length - (await replay(select(page)));
      if (report.failed.length > 0) break;
    }
    return report;
  }

  const last = await lastStreamId(client, location.key);
  if (last === undefined) return report;
  for (let after = '-'; ;) {
    const page = await streamPage(client, location.key, after, chunk, last);
    if (page.length === 0) break;
    after = (page[page.length - 1] as StoredEntry).id;
    await replay(select(page));
    if (report.failed.length > 0) break;
  }
  return report;
}
/** Entries matching the ids: an entry id, or a message_id that names exactly one entry. */
async function findByIds(
  client: RedisClient,
  location: DeadLetterLocation,
  ids: readonly string[],
  report: ReplayReport,
): Promise<StoredEntry[]> {
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

/**
 * Moves a batch back into the source. Returns how many entries left the dead letter (moved, or taken
 * by someone else), which is what the list walk must not skip over.
 */
async function replayBatch(
  client: RedisClient,
  location: DeadLetterLocation,
  target: ReplayTarget,
  batch: StoredEntry[],
  report: ReplayReport,
  onReplayed?: (batch: readonly StoredEntry[]) => void,
): Promise<number> {
  if (batch.length === 0) return 0;
  const results = await moveEntries(client, location, target, batch as (StoredEntry & Resendable)[]);
  const done: StoredEntry[] = [];
  let gone = 0;
  for (const [i, result] of results.entries()) {
    const stored = batch[i] as StoredEntry;
    if (result === 'moved') done.push(stored);
    else if (result === 'gone') gone++;
    else report.failed.push({ entry: stored, error: result.error });
  }
  report.replayed += done.length;
  report.alreadyGone += gone;
  if (done.length > 0) onReplayed?.(done);
  return done.length + gone;
}
