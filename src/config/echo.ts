/**
 * How a value from a file, a message or the environment is shown in a human-readable line: at most
 * ECHO_CHARS characters (a 50 MB scalar is not printed back), and with every control character
 * escaped, so a value holding ANSI escapes or a newline cannot forge lines in a terminal.
 */
export const ECHO_CHARS = 80;

// C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Control characters as \n, \t, \r or \uXXXX (printable text, including non-ASCII letters, is kept). */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** At most `max` characters, with "…(N characters)" when shortened. */
export function truncate(text: string, max = ECHO_CHARS): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}…(${text.length} characters)`;
}

/** A value as it appears inside a message: shortened, control characters escaped, unquoted. */
export function echo(value: string, max = ECHO_CHARS): string {
  return escapeControl(truncate(value, max));
}

/** A value shown as JSON (strings quoted), shortened to about `max` characters. */
export function echoJson(value: unknown, max = ECHO_CHARS): string {
  if (typeof value === 'string') return JSON.stringify(truncate(value, max)).replace(CONTROL, (c) => escapeControl(c));
  const json = JSON.stringify(value) ?? String(value);
  return escapeControl(truncate(json, max));
}
