export interface WaitForOptions<T> {
  /** Give up after this long (default 20 s). */
  timeoutMs?: number;
  /** Time between two reads (default 50 ms). */
  intervalMs?: number;
  /**
   * When the value read is the one waited for. Default: any value other than false, undefined and null,
   * so a boolean check or a lookup that is undefined until the thing exists both work as they are.
   */
  until?: (value: T) => boolean;
}

const present = (value: unknown): boolean => value !== false && value !== undefined && value !== null;

/**
 * Reads `read()` every `intervalMs` until its value is the one waited for, and returns that value.
 * On timeout it throws, naming `what` (a function is called only then, so it can quote a log collected meanwhile)
 * and quoting the last value read (or the last error `read` threw,
 * for probes that fail until a server is up), so a failed wait says what never happened and how far it got.
 */
export async function waitFor<T>(what: string | (() => string), read: () => T | Promise<T>, options: WaitForOptions<T> = {}): Promise<T> {
  const { timeoutMs = 20_000, intervalMs = 50, until = present } = options;
  const deadline = Date.now() + timeoutMs;
  let last: { value: T } | { error: unknown } | undefined;
  for (;;) {
    try {
      const value = await read();
      if (until(value)) return value;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}${describe(last)}`);
}

function describe(last: { value: unknown } | { error: unknown } | undefined): string {
  if (last === undefined) return '';
  if ('error' in last) return ` (last error: ${last.error instanceof Error ? last.error.message : String(last.error)})`;
  if (typeof last.value === 'boolean') return '';
  return ` (last value: ${quote(last.value)})`;
}

function quote(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
