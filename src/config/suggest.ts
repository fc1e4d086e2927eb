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

/** Edit distance where swapping two neighbouring letters counts as one edit (optimal string alignment). */
export function levenshtein(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number) => (d[i] as number[])[j] as number;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** How many edits still count as a misspelling of a key of this length. */
function tolerance(name: string): number {
  return name.length <= 4 ? 1 : name.length <= 8 ? 2 : 3;
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

/** Every dotted path where a key of this name is allowed. */
export function placesOf(name: string, schema: JsonSchema): string[] {
  indexCache ??= propertyIndex(schema);
  return indexCache.get(name) ?? [];
}

/** A hint for an unknown key: a near spelling here, the same key at another depth, or a Python name. */
export function suggestKey(unknown: string, allowed: string[], schema: JsonSchema, here: string[]): string {
  const normalized = unknown.toLowerCase().replace(/-/g, '_');
  const near = allowed
    .map((name) => ({ name, distance: name === normalized ? 0 : levenshtein(normalized, name) }))
    .filter((c) => c.distance <= tolerance(c.name))
    .sort((a, b) => a.distance - b.distance)[0];
  if (near) return `; did you mean "${near.name}"?`;
  const elsewhere = placesOf(normalized, schema).filter((p) => p !== [...here, normalized].join('.'));
  if (elsewhere.length > 0) {
    const places = elsewhere.slice(0, 3).map((p) => (p.includes('.') ? p : `the top level (${p}:)`));
    return `; "${normalized}" belongs at ${places.join(' or ')}: check its indentation`;
  }
  if (unknown === '<<') return '; YAML merge keys (<<) are not supported: write the keys out';
  const legacy = LEGACY_NAMES[normalized];
  if (legacy) return `; Pythia's Python setting "${normalized}" is ${legacy} here`;
  return allowed.length > 0 ? `; allowed keys: ${allowed.join(', ')}` : '';
}
