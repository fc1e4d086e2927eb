/**
 * Credentials of a pipeline file, so that no message about the file prints one back: a URL's
 * user:password@, the values of password keys (and the user name that goes with a password), and the
 * values of the environment variables those keys take their values from (a `port: ${REDIS_PASSWORD}`
 * mistake would otherwise print the password in "must be an integer, got ...").
 */
export const REDACTED = '[redacted]';

type Path = readonly (string | number)[];

/** Keys whose values are credentials wherever they appear under redis. */
const SECRET_PATHS: readonly string[] = ['redis.password', 'redis.sentinel.password'];
/** Maps whose every value is a credential: OTLP export headers carry API keys and bearer tokens. */
const SECRET_MAPS: readonly string[] = ['tracing.headers'];
/** Keys whose values may carry user:password@. */
const URL_PATHS: readonly string[] = ['redis.url', 'redis.cluster.nodes.*', 'redis.sentinel.nodes.*'];
/** Keys that name where credentials come from: the variables they reference are credentials too. */
const CREDENTIAL_SOURCE_PATHS: readonly string[] = [
  ...SECRET_PATHS,
  ...URL_PATHS,
  'redis.username',
  'redis.tls.ca_file',
  'redis.tls.cert_file',
  'redis.tls.key_file',
];
/** Variables that hold credentials by convention, referenced or not. */
const CONVENTIONAL = ['REDIS_PASSWORD', 'REDIS_URL'];
/** A variable whose name says it holds a secret. */
const SECRET_NAME = /PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE_KEY|API_KEY/i;

const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)/g;

function matches(path: Path, patterns: readonly string[]): boolean {
  const dotted = path.map((seg) => (typeof seg === 'number' ? '*' : seg)).join('.');
  return patterns.includes(dotted);
}

/** True for a key whose value is a credential (redis.password, redis.sentinel.password). */
export function isSecretPath(path: Path): boolean {
  return matches(path, SECRET_PATHS) || inSecretMap(path);
}

/** A value of one of SECRET_MAPS (tracing.headers.<name>). */
function inSecretMap(path: Path): boolean {
  return path.length === 3 && SECRET_MAPS.includes(`${path[0]}.${path[1]}`);
}

/** The strings of the SECRET_MAPS of a file, with their paths. */
function secretMapStrings(data: unknown): { path: (string | number)[]; value: string }[] {
  return SECRET_MAPS.flatMap((map) => {
    const path = map.split('.');
    return strings(at(data, path), path).filter((entry) => inSecretMap(entry.path));
  });
}

function at(data: unknown, path: Path): unknown {
  let value = data;
  for (const seg of path) value = (value as Record<string | number, unknown> | null | undefined)?.[seg];
  return value;
}

function strings(
  data: unknown,
  prefix: (string | number)[] = [],
  out: { path: (string | number)[]; value: string }[] = [],
): { path: (string | number)[]; value: string }[] {
  if (typeof data === 'string') out.push({ path: prefix, value: data });
  else if (Array.isArray(data)) data.forEach((item, i) => strings(item, [...prefix, i], out));
  else if (data !== null && typeof data === 'object') for (const [key, item] of Object.entries(data)) strings(item, [...prefix, key], out);
  return out;
}

/** Names of the environment variables that supply this file's credentials (as written, before substitution). */
export function credentialVariables(written: unknown): Set<string> {
  const names = new Set<string>(CONVENTIONAL);
  const redis = at(written, ['redis']);
  for (const { path, value } of strings(redis, ['redis'])) {
    if (!matches(path, CREDENTIAL_SOURCE_PATHS)) continue;
    for (const match of value.matchAll(VARIABLE)) names.add(match[1] as string);
  }
  for (const { value } of secretMapStrings(written)) for (const match of value.matchAll(VARIABLE)) names.add(match[1] as string);
  for (const { value } of strings(written))
    for (const match of value.matchAll(VARIABLE)) if (SECRET_NAME.test(match[1] as string)) names.add(match[1] as string);
  return names;
}

function urlPassword(value: string): string[] {
  try {
    const url = new URL(value);
    if (url.password === '') return [];
    return [url.password, decodeURIComponent(url.password)];
  } catch {
    return [];
  }
}

/**
 * The literal secrets of a file: password values, the user name when a password is set, URL
 * passwords, and the values of its credential variables. Values shorter than 4 characters are left
 * out (replacing them would mangle ordinary words); the structural rules still hide them.
 */
export function collectSecrets(written: unknown, resolved: unknown, env: NodeJS.ProcessEnv): string[] {
  const found = new Set<string>();
  const redis = at(resolved, ['redis']);
  for (const { path, value } of strings(redis, ['redis'])) {
    if (matches(path, SECRET_PATHS)) found.add(value);
    if (matches(path, URL_PATHS)) for (const password of urlPassword(value)) found.add(password);
  }
  for (const { value } of secretMapStrings(resolved)) found.add(value);
  const password = at(resolved, ['redis', 'password']);
  const username = at(resolved, ['redis', 'username']);
  if (typeof password === 'string' && password !== '' && typeof username === 'string') found.add(username);
  for (const name of credentialVariables(written)) {
    const value = env[name];
    if (value === undefined) continue;
    found.add(value);
    for (const password of urlPassword(value)) found.add(password);
  }
  return [...found].filter((secret) => secret.length >= 4).sort((a, b) => b.length - a.length);
}

/**
 * user:password@ of any URL-looking text, then every literal secret, replaced. The scheme is at most
 * 32 characters so that a long run of letters costs linear time, not one scan per starting letter.
 */
export function redactText(text: string, secrets: readonly string[]): string {
  let out = text.replace(/([a-z][a-z0-9+.-]{0,31}:\/\/)[^@\s/"']*@/gi, `$1${REDACTED}@`);
  for (const secret of secrets) {
    for (const form of [secret, JSON.stringify(secret).slice(1, -1)]) if (out.includes(form)) out = out.split(form).join(REDACTED);
  }
  return out;
}
