import type { PipelineConfig } from '../config/index.ts';

/**
 * Variables that hold credentials by convention, whether the pipeline references them or not: Redis's,
 * and the OTLP export headers (API keys of the tracing backend).
 */
const CONVENTIONAL = ['REDIS_PASSWORD', 'REDIS_URL', 'OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS'];

function urlCredentials(value: string | undefined): string[] {
  if (!value) return [];
  try {
    const url = new URL(value);
    return [url.password, decodeURIComponent(url.password)].filter((part) => part !== '');
  } catch {
    return [];
  }
}

/**
 * The values that are this pipeline's credentials once variables are substituted: passwords, the
 * user name that goes with a password, URL passwords, and the TLS file paths (the private key's
 * path is what a handler would need to read it).
 */
function credentialValues({ redis, tracing }: Pick<PipelineConfig, 'redis' | 'tracing'>): Set<string> {
  const values = new Set<string>();
  const add = (value: string | undefined) => {
    if (value !== undefined && value !== '') values.add(value);
  };
  add(redis.password);
  if (redis.password) add(redis.username);
  add(redis.sentinel?.password);
  for (const password of urlCredentials(redis.url)) add(password);
  for (const node of [...(redis.cluster?.nodes ?? []), ...(redis.sentinel?.nodes ?? [])])
    for (const password of urlCredentials(node)) add(password);
  add(redis.tls.key_file);
  add(redis.tls.cert_file);
  for (const value of Object.values(tracing?.headers ?? {})) add(value);
  return values;
}

/**
 * Names of the worker's variables that carry this pipeline's credentials: REDIS_PASSWORD, REDIS_URL,
 * and every variable whose value is (or, for a URL, contains) one of them. Matching by value finds
 * the variables the pipeline's ${VAR} references read, whatever they are called.
 */
export function credentialVariableNames(config: PipelineConfig, env: NodeJS.ProcessEnv): Set<string> {
  const secrets = credentialValues(config);
  const names = new Set(CONVENTIONAL);
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value === '') continue;
    if (secrets.has(value) || urlCredentials(value).some((password) => secrets.has(password))) names.add(name);
  }
  return names;
}

/**
 * The part of the worker's environment a command handler inherits, per handler.env_inherit
 * (handler.env and the PYTHIA_* variables are laid over it by the caller):
 * - all-except-credentials (default): everything but credentialVariableNames;
 * - all: everything;
 * - none: PATH only (so a bare command name is found as `validate` found it);
 * - a list of names: those, and PATH.
 */
export function inheritedEnvironment(config: PipelineConfig, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const policy = config.handler.env_inherit ?? 'all-except-credentials';
  const pick = (keep: (name: string) => boolean): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(env)) if (value !== undefined && keep(name)) out[name] = value;
    return out;
  };
  if (policy === 'all') return pick(() => true);
  if (policy === 'none') return pick((name) => name === 'PATH');
  if (Array.isArray(policy)) {
    const allowed = new Set([...policy, 'PATH']);
    return pick((name) => allowed.has(name));
  }
  const excluded = credentialVariableNames(config, env);
  return pick((name) => !excluded.has(name));
}
