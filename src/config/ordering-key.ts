/**
 * `ordering.key`: where a message's ordering key is, written once for `pythia validate` and the runtime.
 * Either `header:NAME` (a message header) or a JSON pointer into the body (RFC 6901).
 */
export type OrderingKeySpec = { kind: 'header'; name: string } | { kind: 'pointer'; tokens: readonly string[] };

export type ParsedOrderingKey = { ok: true; spec: OrderingKeySpec } | { ok: false; error: string };

const HEADER = 'header:';

export function parseOrderingKey(text: string): ParsedOrderingKey {
  if (text.startsWith(HEADER)) {
    const name = text.slice(HEADER.length);
    if (name === '') return { ok: false, error: 'header: needs a header name after it, e.g. header:tenant' };
    return { ok: true, spec: { kind: 'header', name } };
  }
  // The whole body ("") is not a key: every message would share one, or differ by every byte.
  if (!text.startsWith('/'))
    return { ok: false, error: 'is neither a JSON pointer (it must start with "/", e.g. /customer/id) nor header:NAME' };
  const tokens: string[] = [];
  for (const raw of text.slice(1).split('/')) {
    // RFC 6901: "~" is only ever "~0" (a "~") or "~1" (a "/").
    if (/~(?![01])/.test(raw))
      return { ok: false, error: 'is not a valid JSON pointer: "~" must be followed by 0 or 1 (~0 is "~", ~1 is "/")' };
    tokens.push(raw.replaceAll('~1', '/').replaceAll('~0', '~'));
  }
  return { ok: true, spec: { kind: 'pointer', tokens } };
}

/** Longest key kept as written; a longer one is replaced by its digest (Redis key names stay short). */
export const MAX_ORDERING_KEY_LENGTH = 200;

/**
 * The key of a decoded body or its headers; undefined when the message has none (the pointer finds
 * nothing, or an object, array or null): such a message is processed without ordering.
 */
export function orderingKeyOf(spec: OrderingKeySpec, body: unknown, headers: Readonly<Record<string, string>>): string | undefined {
  if (spec.kind === 'header') return Object.hasOwn(headers, spec.name) ? headers[spec.name] : undefined;
  let value: unknown = body;
  for (const token of spec.tokens) {
    if (Array.isArray(value)) {
      if (!/^(0|[1-9][0-9]*)$/.test(token)) return undefined;
      value = value[Number(token)];
    } else if (value !== null && typeof value === 'object' && Object.hasOwn(value, token)) {
      value = (value as Record<string, unknown>)[token];
    } else {
      return undefined;
    }
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}
