import type { LoadedPipeline } from '../config/index.ts';
import { deadLetterLocation, replayTarget, type DeadLetterLocation } from '../dlq/location.ts';
import { purgeDeadLetters } from '../dlq/purge.ts';
import { countEntries, listPage, scanEntries, streamPage, type StoredEntry } from '../dlq/read.ts';
import { replayDeadLetters, type ReplayReport } from '../dlq/replay.ts';
import type { RedisClient } from '../redis/connection.ts';
import { scrubSecrets } from '../redis/redact.ts';

export const MAX_PAGE = 100;
/** Entries read per page request at most, whatever the filter (a rare reason costs bounded work). */
const SCAN_BUDGET = 5000;
/** Entries read to count reasons at most. */
const REASON_BUDGET = 10_000;
/** Payload bytes shown per entry. */
const SHOWN_BYTES = 64 * 1024;

export interface PayloadView {
  kind: 'json' | 'text' | 'binary';
  /** Pretty-printed JSON, the text, or a hex dump. */
  text: string;
  bytes: number;
  truncated: boolean;
}

export interface EntryView {
  id: string;
  reason?: string;
  error?: string;
  attempts?: number;
  pipeline?: string;
  message_id?: string;
  source?: string;
  headers?: Record<string, string>;
  first_failure_at?: string;
  last_failure_at?: string;
  dead_lettered_at?: string;
  /** Set when the element is not a dead-letter entry. */
  problem?: string;
  payload: PayloadView;
}

export interface DeadLetterPage {
  location: DeadLetterLocation;
  total: number;
  /** Entries per reason (over at most REASON_BUDGET entries; `reasons_complete` says whether that was all). */
  reasons: Record<string, number>;
  reasons_complete: boolean;
  entries: EntryView[];
  /** Pass as `cursor` for the next page; null at the end. */
  next_cursor: string | null;
}

/**
 * One page of a dead letter, oldest first, optionally of one reason. The cursor is the position after
 * the last entry read: an offset from the oldest end for a list (stable while new entries arrive at
 * the other end), the last entry id for a stream.
 */
export async function readPage(
  client: RedisClient,
  pipeline: LoadedPipeline,
  query: { reason?: string; cursor?: string; limit: number },
): Promise<DeadLetterPage> {
  const location = deadLetterLocation(pipeline);
  const matches = (stored: StoredEntry) => !query.reason || (stored.entry?.reason ?? 'unreadable') === query.reason;
  const entries: EntryView[] = [];
  let next: string | null;
  let budget = SCAN_BUDGET;
  if (location.kind === 'list') {
    let skip = Number(query.cursor ?? 0);
    if (!Number.isSafeInteger(skip) || skip < 0) throw new RangeError('cursor must be a whole number for a list dead letter');
    const total = await client.llen(location.key);
    while (skip < total && entries.length < query.limit && budget > 0) {
      const page = await listPage(client, location.key, skip, Math.min(200, budget));
      if (page.length === 0) break;
      for (const stored of page) {
        skip++;
        budget--;
        if (matches(stored)) entries.push(entryView(stored));
        if (entries.length >= query.limit) break;
      }
    }
    next = skip < total ? String(skip) : null;
  } else {
    let after = query.cursor ?? '-';
    if (after !== '-' && !/^\d+-\d+$/.test(after)) throw new RangeError('cursor must be a stream entry id');
    let ended = false;
    while (entries.length < query.limit && budget > 0) {
      const page = await streamPage(client, location.key, after, Math.min(200, budget));
      if (page.length === 0) {
        ended = true;
        break;
      }
      for (const stored of page) {
        after = stored.id;
        budget--;
        if (matches(stored)) entries.push(entryView(stored));
        if (entries.length >= query.limit) break;
      }
    }
    next = ended ? null : after;
    if (!ended && (await streamPage(client, location.key, after, 1)).length === 0) next = null;
  }
  const { reasons, complete } = await countReasons(client, location);
  return { location, total: await countEntries(client, location), reasons, reasons_complete: complete, entries, next_cursor: next };
}

async function countReasons(
  client: RedisClient,
  location: DeadLetterLocation,
): Promise<{ reasons: Record<string, number>; complete: boolean }> {
  const reasons: Record<string, number> = {};
  let read = 0;
  for await (const stored of scanEntries(client, location, 1000)) {
    if (read++ >= REASON_BUDGET) return { reasons, complete: false };
    const reason = stored.entry?.reason ?? 'unreadable';
    reasons[reason] = (reasons[reason] ?? 0) + 1;
  }
  return { reasons, complete: true };
}

export function entryView(stored: StoredEntry): EntryView {
  const payload = payloadView(stored.payload ?? stored.element ?? Buffer.alloc(0));
  const { entry } = stored;
  if (!entry) return { id: stored.id, problem: stored.problem ?? 'unreadable', payload };
  return {
    id: stored.id,
    reason: entry.reason,
    error: scrubSecrets(entry.error),
    attempts: entry.attempts,
    pipeline: entry.pipeline,
    message_id: entry.message_id,
    source: entry.source.kind === 'channel' ? `channel ${entry.source.channel ?? '?'}` : `${entry.source.kind} ${entry.source.key ?? '?'}`,
    headers: entry.fields ? Object.fromEntries(Object.entries(entry.fields).map(([k, v]) => [k, scrubSecrets(String(v))])) : undefined,
    first_failure_at: entry.first_failure_at,
    last_failure_at: entry.last_failure_at,
    dead_lettered_at: entry.dead_lettered_at,
    payload,
  };
}

/** JSON pretty-printed, other UTF-8 text as is, anything else as a hex dump; at most SHOWN_BYTES. */
export function payloadView(bytes: Buffer): PayloadView {
  const truncated = bytes.length > SHOWN_BYTES;
  const text = bytes.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(bytes)) {
    if (!truncated) {
      try {
        return { kind: 'json', text: scrubSecrets(JSON.stringify(JSON.parse(text), null, 2)), bytes: bytes.length, truncated };
      } catch {
        // Not JSON: shown as text.
      }
    }
    return { kind: 'text', text: scrubSecrets(text.slice(0, SHOWN_BYTES)), bytes: bytes.length, truncated };
  }
  return { kind: 'binary', text: hexDump(bytes.subarray(0, SHOWN_BYTES)), bytes: bytes.length, truncated };
}

function hexDump(bytes: Buffer): string {
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += 16) {
    const row = bytes.subarray(at, at + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${at.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join('\n');
}

/** What a replay or purge request selects: entry ids, every entry of a reason, or everything. */
export type Selection = { ids: string[] } | { reason: string } | { all: true };

/** Entry ids of this pipeline's entries with the reason (oldest first). */
async function idsOfReason(client: RedisClient, location: DeadLetterLocation, pipeline: string, reason: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const stored of scanEntries(client, location, 1000))
    if (stored.entry?.reason === reason && stored.entry.pipeline === pipeline) ids.push(stored.id);
  return ids;
}

export interface ActionResult {
  /** Entries re-sent (replay) or deleted (purge). */
  done: number;
  not_found: string[];
  failed: { id: string; error: string }[];
  skipped_other_pipeline: number;
  skipped_unreadable: number;
}

/** `pythia dlq replay`'s semantics (src/dlq/replay.ts): an entry leaves the dead letter only once re-sent. */
export async function replaySelection(client: RedisClient, pipeline: LoadedPipeline, selection: Selection): Promise<ActionResult> {
  const location = deadLetterLocation(pipeline);
  const name = pipeline.config.name;
  let ids: string[] | undefined;
  if ('ids' in selection) ids = selection.ids;
  else if ('reason' in selection) ids = await idsOfReason(client, location, name, selection.reason);
  if (ids && ids.length === 0) return { done: 0, not_found: [], failed: [], skipped_other_pipeline: 0, skipped_unreadable: 0 };
  const report: ReplayReport = await replayDeadLetters(client, location, replayTarget(pipeline), { pipeline: name, ids });
  return {
    done: report.replayed,
    not_found: [...report.notFound, ...report.ambiguous.map((a) => a.id)],
    failed: report.failed.map(({ entry, error }) => ({ id: entry.id, error: scrubSecrets(error) })),
    skipped_other_pipeline: report.otherPipeline,
    skipped_unreadable: report.unreadable,
  };
}

/** `all`: `pythia dlq purge` (src/dlq/purge.ts). Ids or a reason: just those entries. */
export async function purgeSelection(client: RedisClient, pipeline: LoadedPipeline, selection: Selection): Promise<ActionResult> {
  const location = deadLetterLocation(pipeline);
  const result: ActionResult = { done: 0, not_found: [], failed: [], skipped_other_pipeline: 0, skipped_unreadable: 0 };
  if ('all' in selection) {
    result.done = await purgeDeadLetters(client, location);
    return result;
  }
  const wanted = new Set('ids' in selection ? selection.ids : await idsOfReason(client, location, pipeline.config.name, selection.reason));
  const found: StoredEntry[] = [];
  for await (const stored of scanEntries(client, location, 1000)) if (wanted.delete(stored.id)) found.push(stored);
  result.not_found = [...wanted];
  result.done = await removeEntries(client, location, found);
  return result;
}

/** Deletes these entries: LREM of the element's exact bytes from the oldest end, or XDEL. */
async function removeEntries(client: RedisClient, location: DeadLetterLocation, entries: StoredEntry[]): Promise<number> {
  let removed = 0;
  for (let i = 0; i < entries.length; i += 500) {
    const pipe = client.pipeline();
    for (const stored of entries.slice(i, i + 500)) {
      if (location.kind === 'list') pipe.lrem(location.key, -1, stored.element as Buffer);
      else pipe.xdel(location.key, stored.id);
    }
    for (const [error, reply] of (await pipe.exec()) ?? []) {
      if (error) throw error;
      removed += Number(reply);
    }
  }
  return removed;
}
