import { echo, escapeControl } from '../config/echo.ts';
import type { MessageOrigin } from '../handlers/types.ts';
import type { StoredEntry } from './read.ts';

const PREVIEW_CHARS = 60;
const PREVIEW_BYTES = 24;
const ERROR_CHARS = 80;

/**
 * One line per entry, fields separated by two spaces:
 * ID  REASON  attempts=N  error="..."  source=KIND:KEY  first=ISO  last=ISO  payload=PREVIEW
 * Every field comes from Redis, where any client (or publisher, for a channel name) may have put
 * anything: control characters are escaped so that an entry is always exactly one line and cannot
 * send escape sequences to the operator's terminal.
 */
export function formatLine(stored: StoredEntry): string {
  return escapeControl(rawLine(stored));
}

function rawLine(stored: StoredEntry): string {
  const { entry, payload } = stored;
  if (!entry)
    return [
      stored.id,
      'unreadable',
      `problem=${JSON.stringify(stored.problem ?? '')}`,
      `payload=${preview(payload ?? stored.element ?? Buffer.alloc(0))}`,
    ].join('  ');
  return [
    stored.id,
    entry.reason,
    `attempts=${entry.attempts}`,
    `error=${JSON.stringify(truncate(entry.error, ERROR_CHARS))}`,
    `source=${describeOrigin(entry.source)}`,
    `first=${entry.first_failure_at}`,
    `last=${entry.last_failure_at}`,
    `payload=${preview(payload ?? Buffer.alloc(0))}`,
  ].join('  ');
}

/** For `--format json`: one object per line. */
export function formatJson(stored: StoredEntry): string {
  if (!stored.entry)
    return JSON.stringify({
      id: stored.id,
      problem: stored.problem,
      raw: (stored.element ?? stored.payload ?? Buffer.alloc(0)).toString('base64'),
    });
  return JSON.stringify({ id: stored.id, entry: stored.entry });
}

export function describeOrigin(origin: MessageOrigin): string {
  if (origin.kind === 'channel')
    return `channel:${echo(String(origin.channel ?? '?'))}${origin.pattern ? ` (pattern ${echo(String(origin.pattern))})` : ''}`;
  return `${echo(String(origin.kind))}:${echo(String(origin.key ?? '?'))}`;
}

/** Text as a JSON string (control characters escaped), shortened; bytes that are not UTF-8 as hex. */
export function preview(payload: Buffer): string {
  const text = payload.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(payload)) {
    const shown = JSON.stringify(truncate(text, PREVIEW_CHARS));
    return text.length > PREVIEW_CHARS ? `${shown} (${payload.length} bytes)` : shown;
  }
  const more = payload.length > PREVIEW_BYTES ? '…' : '';
  return `hex:${payload.subarray(0, PREVIEW_BYTES).toString('hex')}${more} (${payload.length} bytes, not UTF-8)`;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
