import type { JsonSchema } from './schema.ts';

/** Python Pythia's configuration names, mapped to where the same setting lives in a pipeline file. */
const LEGACY_NAMES: Record<string, string> = {
  queue: 'source.list.key',
  stream: 'source.stream.key',
  consumer_group: 'source.stream.consumer_group',
  channel: 'source.channel.channels',
  batch_size: 'source.<kind>.batch_size',
  block_timeout_ms: 'source.<kind>.block_timeout_ms',
  max_stream_length: 'source.stream.max_stream_length',
  trim_strategy: 'source.stream.trim_strategy',
  socket_timeout: 'redis.socket_timeout_ms (milliseconds)',
  connection_timeout: 'redis.connection_timeout_ms (milliseconds)',
  health_check_interval: 'redis.health_check_interval_s',
  retry_delay: 'resilience.retry_delay_ms (milliseconds)',
  retry_max_delay: 'resilience.retry_max_delay_ms (milliseconds)',
  circuit_breaker_enabled: 'resilience.circuit_breaker.enabled',
  circuit_breaker_threshold: 'resilience.circuit_breaker.failure_threshold',
  circuit_breaker_timeout: 'resilience.circuit_breaker.reset_timeout_ms (milliseconds)',
  processing_timeout: 'resilience.processing_timeout_ms (milliseconds)',
  prometheus_enabled: 'metrics.enabled',
  prometheus_prefix: 'nothing: metric names are fixed (pythia_*)',
  custom_metrics: 'metrics.redis (queue_length, connection_pool, memory_usage)',
  max_concurrent: 'concurrency',
  broker_type: 'broker',
};

export function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length] as number;
}

/** Every place a property name is allowed in the schema, as dotted paths. */
function propertyIndex(schema: JsonSchema, prefix: string[] = [], index = new Map<string, string[]>()): Map<string, string[]> {
  for (const [name, sub] of Object.entries(schema.properties ?? {})) {
    const path = [...prefix, name];
    const list = index.get(name) ?? [];
    list.push(path.join('.'));
    index.set(name, list);
    propertyIndex(sub, path, index);
  }
  return index;
}

let indexCache: Map<string, string[]> | undefined;

/** A hint for an unknown key: a near spelling here, the same key at another depth, or a Python name. */
export function suggestKey(unknown: string, allowed: string[], schema: JsonSchema, here: string[]): string {
  const normalized = unknown.toLowerCase().replace(/-/g, '_');
  const near = allowed
    .map((name) => ({ name, distance: name === normalized ? 0 : levenshtein(normalized, name) }))
    .filter((c) => c.distance <= Math.max(2, Math.floor(c.name.length / 3)))
    .sort((a, b) => a.distance - b.distance)[0];
  if (near) return `; did you mean "${near.name}"?`;
  indexCache ??= propertyIndex(schema);
  const elsewhere = (indexCache.get(normalized) ?? []).filter((p) => p !== [...here, normalized].join('.'));
  if (elsewhere.length > 0) return `; "${normalized}" belongs at ${elsewhere.slice(0, 3).join(' or ')}`;
  const legacy = LEGACY_NAMES[normalized];
  if (legacy) return `; Pythia's Python setting "${normalized}" is ${legacy} here`;
  return allowed.length > 0 ? `; allowed keys: ${allowed.join(', ')}` : '';
}
