import { isUtf8 } from 'node:buffer';
import type { Target } from '../config/targets.ts';
import type { MessageOrigin } from '../handlers/types.ts';
import type { ConnectionPool } from '../redis/pool.ts';
import { setOwnField } from '../redis/own-field.ts';
import { scrubSecrets } from '../redis/redact.ts';
import { createWriter, type Writer } from './writer.ts';

export const DEAD_LETTER_REASONS = [
  'retries_exhausted',
  'permanent_error',
  'timeout',
  'invalid_json',
  'schema_invalid',
  'too_large',
  'max_deliveries',
  'decode_error',
  'invalid_headers',
  'invalid_envelope',
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/** One failed message, as stored in the dead letter. */
export interface DeadLetterEntry {
  /** The payload byte for byte: UTF-8 text when it is valid UTF-8, else base64 (see payload_encoding). */
  payload: string;
  payload_encoding: 'utf8' | 'base64';
  reason: DeadLetterReason;
  error: string;
  attempts: number;
  pipeline: string;
  source: MessageOrigin;
  message_id: string;
  fields?: Record<string, string>;
  /**
   * A stream entry's fields exactly as stored, base64, name and value alternating; written only when
   * `fields` cannot say it (a name used twice, bytes that are not UTF-8). Replay uses it first.
   */
  raw_fields?: string[];
  /** The message's headers (absent when it had none); a replay sends them again. */
  headers?: Record<string, string>;
  /**
   * `pythia`: the payload is the whole Python Pythia envelope as it was delivered (body, headers and
   * message_id inside it); a replay sends it as it is. Absent: the payload is the body alone.
   */
  envelope?: 'pythia';
  first_failure_at: string;
  last_failure_at: string;
  dead_lettered_at: string;
}

export interface DeadLetterInput {
  raw: Buffer;
  reason: DeadLetterReason;
  error: string;
  attempts: number;
  origin: MessageOrigin;
  messageId: string;
  fields: Record<string, string>;
  /** Stream entries: the fields as Redis stored them (see Delivery.fieldPairs). */
  fieldPairs?: Buffer[] | undefined;
  headers?: Record<string, string>;
  /** Set when `raw` is the whole Python Pythia envelope (see DeadLetterEntry.envelope). */
  envelope?: 'pythia';
  firstFailureAt: number;
  lastFailureAt: number;
}

function encodePayload(raw: Buffer): { payload: string; payload_encoding: 'utf8' | 'base64' } {
  // isUtf8 checks in place: decoding and re-encoding to compare made three copies of a large payload.
  return isUtf8(raw)
    ? { payload: raw.toString('utf8'), payload_encoding: 'utf8' }
    : { payload: raw.toString('base64'), payload_encoding: 'base64' };
}

/**
 * A stream entry's fields for its dead letter: `fields` keeps those whose name and value are UTF-8 text (exact
 * as text); `raw` is set when that is not all of them (a name used twice, bytes that are not UTF-8). A field
 * that is not text is left out of `fields`: its text would be lossy (replacement characters) and, for a large
 * binary value, a third copy of it beside `payload` and `raw_fields`.
 */
function streamFields(fields: Record<string, string>, pairs: Buffer[]): { fields: Record<string, string>; raw: boolean } {
  const seen = new Set<string>();
  const notText = new Set<string>();
  let raw = false;
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const name = pairs[i] as Buffer;
    const value = pairs[i + 1] as Buffer;
    const key = name.toString(); // as the source keyed it
    if (seen.has(key)) raw = true;
    seen.add(key);
    if (!isUtf8(name) || !isUtf8(value)) {
      raw = true;
      notText.add(key);
    }
  }
  if (notText.size === 0) return { fields, raw };
  const text: Record<string, string> = {};
  for (const key in fields) if (!notText.has(key)) setOwnField(text, key, fields[key] as string);
  return { fields: text, raw };
}

export function buildEntry(pipeline: string, input: DeadLetterInput): DeadLetterEntry {
  const entry: DeadLetterEntry = {
    ...encodePayload(input.raw),
    reason: input.reason,
    // A handler's error text can quote a connection URL: it is stored with credentials scrubbed, like logs.
    error: scrubSecrets(input.error).slice(0, 4000),
    attempts: input.attempts,
    pipeline,
    source: input.origin,
    message_id: input.messageId,
    first_failure_at: new Date(input.firstFailureAt).toISOString(),
    last_failure_at: new Date(input.lastFailureAt).toISOString(),
    dead_lettered_at: new Date().toISOString(),
  };
  const { fields, raw } = input.fieldPairs ? streamFields(input.fields, input.fieldPairs) : { fields: input.fields, raw: false };
  if (Object.keys(fields).length > 0) entry.fields = fields;
  if (raw) entry.raw_fields = (input.fieldPairs as Buffer[]).map((b) => b.toString('base64'));
  if (input.headers && Object.keys(input.headers).length > 0) entry.headers = input.headers;
  if (input.envelope) entry.envelope = input.envelope;
  return entry;
}

/**
 * Writes dead letters: one JSON document per entry (LPUSH to a list, or the `body` field of an XADD).
 * A stream entry also carries the raw payload bytes in a `payload` field and the `reason`.
 */
export class DeadLetterWriter {
  readonly target: Target;
  private readonly write: Writer;

  constructor(
    private readonly pipeline: string,
    target: Target,
    pool: ConnectionPool,
  ) {
    this.target = target;
    this.write = createWriter(target, pool);
  }

  async send(input: DeadLetterInput): Promise<void> {
    const entry = buildEntry(this.pipeline, input);
    const document = JSON.stringify(entry);
    await (this.target.kind === 'stream' ? this.write(document, { payload: input.raw, reason: entry.reason }) : this.write(document));
  }
}
