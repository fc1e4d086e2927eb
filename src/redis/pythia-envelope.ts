import { isUtf8 } from 'node:buffer';
import type { Envelope, Headers, Unwrapped } from './envelope.ts';

/**
 * Python Pythia's wire format (message.envelope: pythia; docs/migrating-from-python.md), as its
 * RedisListProducer, RedisListConsumer, RedisStreamsProducer and RedisStreamsConsumer really use it.
 *
 * Lists and channels: one JSON document per message, written by Python's json.dumps(ensure_ascii=False):
 *
 *     {"body": {"id": 1}, "headers": {"tenant": "acme"}, "message_id": "m-1"}
 *
 * `body` is any JSON value (a string for str and bytes bodies; bytes that are not UTF-8 become their hex
 * text), `headers` an object (absent or null: none), `message_id` a string or null, and a Python
 * `Message` object adds `timestamp` (ignored here). Anything that is not a JSON object with a `body`
 * member is not an envelope.
 *
 * Streams: a `body` field (JSON text for dicts and lists, the text itself for strings) and one field
 * `header_<name>` per header.
 */

/** Stream field prefix of a header in Python Pythia's stream layout. */
export const PYTHIA_HEADER_PREFIX = 'header_';

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The body bytes, headers and message id of an envelope. A string body is its text as UTF-8; any other
 * body is its JSON text exactly as the producer wrote it (Python's spacing and escapes kept), so
 * message.format json parses it to the value Python sent, and message.raw shows what Python wrote.
 */
export function unwrapPythia(payload: Buffer): Unwrapped {
  let text: string;
  try {
    text = UTF8.decode(payload);
  } catch {
    return { ok: false, error: 'not a Python Pythia envelope: the payload is not valid UTF-8' };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `not a Python Pythia envelope: the payload is not JSON (${(error as Error).message})` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { ok: false, error: `not a Python Pythia envelope: the payload is ${describe(parsed)}, not a JSON object with a "body" member` };
  const envelope = parsed as Record<string, unknown>;
  if (!Object.hasOwn(envelope, 'body')) return { ok: false, error: 'not a Python Pythia envelope: the JSON object has no "body" member' };
  const headers = headersOf(envelope.headers);
  if (typeof headers === 'string') return { ok: false, error: `Python Pythia envelope: ${headers}` };
  const id = envelope.message_id;
  let messageId: string | undefined;
  if (typeof id === 'string') messageId = id === '' ? undefined : id;
  else if (typeof id === 'number') messageId = String(id);
  else if (id !== undefined && id !== null)
    return { ok: false, error: `Python Pythia envelope: "message_id" is ${describe(id)}, not a string` };
  const body = envelope.body;
  const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(memberText(text, 'body'));
  return messageId === undefined ? { ok: true, body: bytes, headers } : { ok: true, body: bytes, headers, id: messageId };
}

/** Headers from the envelope's `headers` member; a string says what is wrong. */
function headersOf(value: unknown): Headers | string {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) return `"headers" is ${describe(value)}, not a JSON object`;
  const entries: [string, string][] = [];
  for (const [name, v] of Object.entries(value)) {
    // Python's headers are meant to be str, but json.dumps writes whatever was passed: numbers and
    // booleans are kept as their JSON text; anything else cannot be a header value here.
    if (typeof v === 'string') entries.push([name, v]);
    else if (typeof v === 'number' || typeof v === 'boolean') entries.push([name, JSON.stringify(v)]);
    else return `header ${JSON.stringify(name)} is ${describe(v)}, not a string`;
  }
  // fromEntries defines own properties: a header named __proto__ stays a header.
  return Object.fromEntries(entries);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a JSON array';
  if (typeof value === 'object') return 'a JSON object';
  return `a JSON ${typeof value}`;
}

/**
 * The source text of the value of top-level member `name` (the last one, as JSON.parse keeps) of a
 * document already known to be a valid JSON object. One pass, no recursion: depth is a counter.
 */
function memberText(text: string, name: string): string {
  let i = skipSpace(text, 0) + 1; // past '{'
  let found = '';
  for (;;) {
    i = skipSpace(text, i);
    if (text[i] === '}') return found;
    const keyEnd = skipString(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipSpace(text, skipSpace(text, keyEnd) + 1); // past ':'
    const end = skipValue(text, i);
    if (key === name) found = text.slice(i, end);
    i = skipSpace(text, end);
    if (text[i] === ',') i++;
  }
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  return i;
}

/** From an opening quote to just past its closing quote. */
function skipString(text: string, i: number): number {
  for (i++; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === '"') return i + 1;
  }
  return i;
}

function skipValue(text: string, i: number): number {
  const first = text[i];
  if (first === '"') return skipString(text, i);
  if (first !== '{' && first !== '[') {
    while (i < text.length && !',}] \t\n\r'.includes(text[i] as string)) i++;
    return i;
  }
  let depth = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      i = skipString(text, i);
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return i;
}

/**
 * An envelope as Python Pythia's consumers read it. `body`: a Buffer is sent as Python sends bytes
 * (its text when it is UTF-8, else its hex); a string as a JSON string; anything else as its JSON value.
 * `message_id` is null when there is none, as Python writes it.
 */
export function wrapPythia(body: unknown, headers: Headers, messageId?: string): Buffer {
  if (body === undefined) throw new TypeError('a Python Pythia envelope needs a body');
  const value =
    Buffer.isBuffer(body) || body instanceof Uint8Array ? pythiaText(Buffer.from(body.buffer, body.byteOffset, body.byteLength)) : body;
  return Buffer.from(JSON.stringify({ body: value, headers, message_id: messageId ?? null }));
}

/** Bytes as Python Pythia's producers send them: their text when they are UTF-8, else their hex. */
export function pythiaText(bytes: Buffer): string {
  return isUtf8(bytes) ? bytes.toString('utf8') : bytes.toString('hex');
}

export const pythiaEnvelope: Envelope = {
  name: 'pythia',

  wrap(body, headers) {
    return wrapPythia(body, headers);
  },

  unwrap(payload) {
    return unwrapPythia(payload);
  },

  toFields(body, headers) {
    // As RedisStreamsProducer sends bytes: UTF-8 as they are, anything else as its hex text.
    const fields = [Buffer.from('body'), isUtf8(body) ? body : Buffer.from(body.toString('hex'))];
    for (const [name, value] of Object.entries(headers)) fields.push(Buffer.from(PYTHIA_HEADER_PREFIX + name), Buffer.from(value));
    return fields;
  },

  fromFields(fields) {
    const entries: [string, string][] = [];
    for (const name in fields) {
      if (name.startsWith(PYTHIA_HEADER_PREFIX) && name.length > PYTHIA_HEADER_PREFIX.length)
        entries.push([name.slice(PYTHIA_HEADER_PREFIX.length), fields[name] as string]);
    }
    return Object.fromEntries(entries);
  },
};
