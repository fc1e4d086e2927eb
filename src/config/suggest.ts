import type { JsonSchema } from './schema.ts';

/**
 * Python Pythia's configuration names, mapped to where the same setting lives in a pipeline file.
 * Python counted these in seconds; the pipeline key counts milliseconds.
 */
const SECONDS_TO_MS = new Set([
  'socket_timeout',
  'connection_timeout',
  'retry_delay',
  'retry_max_delay',
  'circuit_breaker_timeout',
  'processing_timeout',
]);

const LEGACY_NAMES: Record<string, string> = {
  queue: 'source.list.key',
  stream: 'source.stream.key',
  consumer_group: 'source.stream.consumer_group',
  channel: 'source.channel.channels',
  batch_size: 'source.<kind>.batch_size',
  block_timeout_ms: 'source.<kind>.block_timeout_ms',
  max_stream_length: 'source.stream.max_stream_length',
  trim_strategy: 'source.stream.trim_strategy',
  socket_timeout: 'redis.socket_timeout_ms',
  connection_timeout: 'redis.connection_timeout_ms',
  health_check_interval: 'redis.health_check_interval_s (seconds, as in Python)',
  retry_delay: 'resilience.retry_delay_ms',
  retry_max_delay: 'resilience.retry_max_delay_ms',
  circuit_breaker_enabled: 'resilience.circuit_breaker.enabled',
  circuit_breaker_threshold: 'resilience.circuit_breaker.failure_threshold',
  circuit_breaker_timeout: 'resilience.circuit_breaker.reset_timeout_ms',
  processing_timeout: 'resilience.processing_timeout_ms',
  prometheus_enabled: 'metrics.enabled',
  prometheus_prefix: 'nothing: metric names are fixed (pythia_*)',
  custom_metrics: 'metrics.redis (queue_length, connection_pool, memory_usage)',
  max_concurrent: 'concurrency',
  broker_type: 'broker',
};

/** Edit distance where swapping two neighbouring letters counts as one edit (optimal string alignment). */
export function levenshtein(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
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

/** What a source kind cannot do, said where a key of another kind is written under it. */
const KIND_NOTES: Record<string, Record<string, string>> = {
  channel: {
    batch_size:
      'pub/sub pushes each message as it is published, so nothing is fetched in batches; source.channel.buffer bounds the messages held while handlers are busy',
    block_timeout_ms: 'a subscriber never polls, so nothing blocks',
    key: 'name the channels in source.channel.channels (or glob patterns in source.channel.patterns)',
    delivery: 'pub/sub is at-most-once: Redis keeps nothing for a subscriber that is down',
  },
  list: {
    consumer_group: 'consumer groups belong to streams; every worker reading the same list key shares its items',
  },
};

export interface SuggestContext {
  /** The pipeline's source kind (list, stream or channel), when the file names one. */
  sourceKind?: string;
  /** The value written under the unknown key (a Python seconds value is converted in the hint). */
  value?: unknown;
}

/** `seconds × 1000`, with the user's own value when it is a number. */
function secondsConversion(name: string, target: string, value: unknown): string {
  const key = target.split('.').pop() as string;
  const seconds = typeof value === 'number' && Number.isFinite(value) ? value : 1.5;
  return `, in milliseconds where Python counted seconds: ×1000, so ${name}: ${seconds} becomes ${key}: ${Math.round(seconds * 1000)}`;
}

/** A hint for an unknown key: a near spelling here, the same key at another depth, or a Python name. */
export function suggestKey(unknown: string, allowed: string[], schema: JsonSchema, here: string[], context: SuggestContext = {}): string {
  const normalized = unknown.toLowerCase().replace(/-/g, '_');
  const legacy = LEGACY_NAMES[normalized];
  const legacyHint = () =>
    `; Pythia's Python setting "${normalized}" is ${legacy} here${SECONDS_TO_MS.has(normalized) ? secondsConversion(normalized, legacy as string, context.value) : ''}`;
  // A Python name next to its pipeline key (retry_delay beside retry_delay_ms) is not a typo: say how the unit changed.
  if (legacy !== undefined && allowed.includes(legacy.split(' ')[0]?.split('.').pop() as string)) return legacyHint();
  // The distance is at least the difference in length, so a name whose length is out of tolerance
  // is never compared: the cost stays bounded by the allowed names, however long the key is.
  const near = allowed
    .filter((name) => Math.abs(name.length - normalized.length) <= tolerance(name))
    .map((name) => ({ name, distance: name === normalized ? 0 : levenshtein(normalized, name) }))
    .filter((c) => c.distance <= tolerance(c.name))
    .sort((a, b) => a.distance - b.distance)[0];
  if (near) return `; did you mean "${near.name}"?`;
  let elsewhere = placesOf(normalized, schema).filter((p) => p !== [...here, normalized].join('.'));
  const kind = context.sourceKind;
  if (kind !== undefined) {
    // A setting of another source kind: moving it would not help, so say what this kind does instead.
    const ofKinds = elsewhere.filter((p) => /^source\.[a-z]+\./.test(p));
    if (ofKinds.length > 0 && ofKinds.length === elsewhere.length && !ofKinds.some((p) => p.startsWith(`source.${kind}.`))) {
      const kinds = ofKinds.map((p) => p.split('.')[1] as string);
      const note = KIND_NOTES[kind]?.[normalized];
      return `; "${normalized}" is a setting of ${kinds.join(' and ')} sources, not of ${kind} sources${note ? `: ${note}` : ''}`;
    }
    elsewhere = elsewhere.filter((p) => !/^source\.[a-z]+\./.test(p) || p.startsWith(`source.${kind}.`));
  }
  if (elsewhere.length > 0) {
    const places = elsewhere.slice(0, 3).map((p) => (p.includes('.') ? p : `the top level (${p}:)`));
    return `; "${normalized}" belongs at ${places.join(' or ')}: check its indentation`;
  }
  if (unknown === '<<') return '; YAML merge keys (<<) are not supported: write the keys out';
  if (legacy) return legacyHint();
  return allowed.length > 0 ? `; allowed keys: ${allowed.join(', ')}` : '';
}
