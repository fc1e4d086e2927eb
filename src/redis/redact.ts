/**
 * Redaction of credentials, for every text that leaves the process: log lines (runtime/logger.ts) and
 * the error text stored in dead letters (outputs/dead-letter.ts).
 *
 * Credentials known to this process (Redis passwords from pipeline files, URLs and --redis-url):
 * every log line is scrubbed of them as a last line of defence, whatever field or message they
 * ended up in. Secrets shorter than 4 characters are not scrubbed literally (they would mangle
 * ordinary text); the structural rules (URL user info, AUTH arguments, password fields) still apply.
 */
const secrets = new Set<string>();

export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < 4) return;
  for (const form of [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)]) secrets.add(form);
}

/** Registers the user name's password part of a URL (redis://user:password@host), decoded and as written. */
export function registerUrlSecrets(url: string | undefined | null): void {
  if (!url) return;
  try {
    const parsed = new URL(url);
    registerSecret(parsed.password);
    registerSecret(decodeURIComponent(parsed.password));
  } catch {
    // Not a URL: nothing structured to register.
  }
}

/** Registers every credential of a pipeline's redis section (and of a --redis-url override). */
export function registerRedisSecrets(
  redis: { url?: string; password?: string; sentinel?: { password?: string }; cluster?: { nodes?: string[] } },
  overrideUrl?: string,
): void {
  registerUrlSecrets(overrideUrl);
  registerUrlSecrets(redis.url);
  registerSecret(redis.password);
  registerSecret(redis.sentinel?.password);
  for (const node of redis.cluster?.nodes ?? []) registerUrlSecrets(node);
}

/** Strips user:password@ from anything that looks like a URL, AUTH arguments from ioredis errors, and every registered secret. */
export function scrubSecrets(text: string): string {
  let out = text.replace(/([a-z][a-z0-9+.-]{0,31}:\/\/)[^@\s/"']*@/gi, '$1***@').replace(/\b(AUTH|auth)\b(\s+[^\s"]+){1,2}/g, '$1 ***');
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join('[redacted]');
  return out;
}
