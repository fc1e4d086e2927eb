/**
 * How a body and its headers travel in Redis, per source kind (docs/headers.md is the user-facing
 * description). The producer encodes with it, the runtime decodes with it before message.format applies,
 * and a dead-letter replay encodes again: one definition for all three.
 *
 * Streams: the body is the `body` field and each header is a field `h:<name>`. No parse step, so no way
 * for a header to be malformed; every header is visible in XRANGE and can be written by any client with
 * a plain XADD.
 *
 * Lists and channels carry one byte string, so headers need an envelope, used only when there are
 * headers (a plain body stays byte for byte what the producer sent):
 *
 *     \0pythia-headers\n{"name":"value",...}\n<body bytes>
 *
 * The NUL byte first is what makes it unmistakable: no JSON document starts with one (JSON allows only
 * space, tab, CR and LF before a value), nor does text anyone types. The header line is JSON, which never
 * contains a raw newline, so the first LF after it ends the headers; the body follows verbatim (binary
 * bodies need no base64). A body that itself starts with the marker is sent inside an envelope (with no
 * headers), so it round-trips unchanged.
 */
import { setOwnField } from './own-field.ts';

export type Headers = Record<string, string>;

export const NO_HEADERS: Headers = Object.freeze({}) as Headers;

const MARKER = Buffer.from('\u0000pythia-headers\n');
/** Stream field prefix of a header. */
export const HEADER_FIELD_PREFIX = 'h:';

/** `id`: the message id the envelope carries, if it carries one (Python Pythia's message_id). */
export type Unwrapped = { ok: true; body: Buffer; headers: Headers; id?: string } | { ok: false; error: string };

/**
 * One way of packing headers beside a body. A pipeline picks one by name with message.envelope
 * (src/redis/envelopes.ts): `native` (this file, message.envelope: none) or `pythia` (pythia-envelope.ts).
 */
export interface Envelope {
  readonly name: string;
  /** A list or channel payload. */
  wrap(body: Buffer, headers: Headers): Buffer;
  unwrap(payload: Buffer): Unwrapped;
  /** The field/value pairs of a stream entry. */
  toFields(body: Buffer, headers: Headers): Buffer[];
  /** The headers of a stream entry, from its fields. */
  fromFields(fields: Record<string, string>): Headers;
}

function checkHeaders(headers: Headers): void {
  for (const [name, value] of Object.entries(headers)) {
    if (name === '') throw new TypeError('a header name cannot be empty');
    if (typeof value !== 'string') throw new TypeError(`header ${JSON.stringify(name)} must be a string, got ${typeof value}`);
  }
}

export const nativeEnvelope: Envelope = {
  name: 'native',

  wrap(body, headers) {
    const names = Object.keys(headers);
    if (names.length === 0 && !startsWithMarker(body)) return body;
    checkHeaders(headers);
    return Buffer.concat([MARKER, Buffer.from(JSON.stringify(headers)), Buffer.from('\n'), body]);
  },

  unwrap(payload) {
    if (!startsWithMarker(payload)) return { ok: true, body: payload, headers: NO_HEADERS };
    const end = payload.indexOf(0x0a, MARKER.length);
    if (end < 0) return { ok: false, error: 'header envelope without the newline that ends its header line' };
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload.toString('utf8', MARKER.length, end));
    } catch (error) {
      return { ok: false, error: `header envelope: the header line is not JSON (${(error as Error).message})` };
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return { ok: false, error: 'header envelope: the header line is not a JSON object' };
    const headers: Headers = {};
    for (const [name, value] of Object.entries(parsed)) {
      if (typeof value !== 'string') return { ok: false, error: `header envelope: header ${JSON.stringify(name)} is not a string` };
      setOwnField(headers, name, value);
    }
    return { ok: true, body: payload.subarray(end + 1), headers };
  },

  toFields(body, headers) {
    checkHeaders(headers);
    const fields = [Buffer.from('body'), body];
    for (const [name, value] of Object.entries(headers)) fields.push(Buffer.from(HEADER_FIELD_PREFIX + name), Buffer.from(value));
    return fields;
  },

  fromFields(fields) {
    let headers: Headers | undefined;
    for (const name in fields) {
      if (!name.startsWith(HEADER_FIELD_PREFIX) || name.length === HEADER_FIELD_PREFIX.length) continue;
      headers ??= {};
      setOwnField(headers, name.slice(HEADER_FIELD_PREFIX.length), fields[name] as string);
    }
    return headers ?? NO_HEADERS;
  },
};

function startsWithMarker(payload: Buffer): boolean {
  return payload.length >= MARKER.length && payload[0] === 0 && payload.subarray(0, MARKER.length).equals(MARKER);
}
