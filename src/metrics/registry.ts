import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { FastHistogram } from './fast-histogram.ts';
import type { Outcome } from './pipeline-observer.ts';

/** Every outcome of pythia_messages_total, so each series exists (at 0) from the first scrape. */
export const OUTCOMES: readonly Outcome[] = ['ok', 'retried', 'dead_lettered', 'dropped'];

/** Connection states of pythia_redis_connections: ioredis statuses folded into four stable values. */
export const CONNECTION_STATES = ['ready', 'connecting', 'reconnecting', 'closed'] as const;
export type ConnectionState = (typeof CONNECTION_STATES)[number];

/**
 * Handler durations span sub-millisecond in-process handlers to minute-long jobs (the default
 * processing timeout is 30 s): 0.1 ms to 60 s, roughly 1-2.5-5 per decade.
 */
export const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * prom-client's default collectors that break the exposition format's naming rules: gauges with a
 * counter's `_total` suffix, which `promtool check metrics` rejects. Each is the sum over the `type`
 * label of its unsuffixed sibling (nodejs_active_handles{type=...}), so nothing is lost.
 */
export const DROPPED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** Called on every scrape, before the registry serializes: pulls values owned by someone else. */
export type ScrapeHook = () => void;

/**
 * Pythia's metrics (listed in docs/metrics.md) in a registry of their own (never prom-client's global one, so a process
 * or a test can hold several). Names and labels here are part of the contract: do not rename.
 */
export class PythiaMetrics {
  readonly registry: Registry;
  readonly messages: Counter<'pipeline' | 'source' | 'outcome'>;
  readonly duration: FastHistogram<'pipeline'>;
  readonly inFlight: Gauge<'pipeline'>;
  readonly retries: Counter<'pipeline'>;
  readonly deadLetters: Counter<'pipeline' | 'reason'>;
  readonly breakerState: Gauge<'pipeline'>;
  readonly queueLength: Gauge<'pipeline' | 'key'>;
  readonly streamPending: Gauge<'pipeline' | 'group'>;
  readonly streamLag: Gauge<'pipeline' | 'group'>;
  readonly connections: Gauge<'pipeline' | 'state'>;
  readonly memoryUsed: Gauge;
  readonly sampleFailures: Counter<'pipeline'>;
  readonly rateLimitWait: Counter<'pipeline'>;
  private readonly hooks = { messages: [] as ScrapeHook[], connections: [] as ScrapeHook[], inFlight: [] as ScrapeHook[] };

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registry = new Registry();
    this.registry = registry;
    const registers = [registry];
    const { hooks } = this;
    this.messages = new Counter({
      name: 'pythia_messages_total',
      help: 'Messages finished, by outcome: ok, retried (an attempt failed and will be retried), dead_lettered, dropped (pub/sub buffer overflow).',
      labelNames: ['pipeline', 'source', 'outcome'],
      registers,
      // Values owned elsewhere (the channel source's drop count, connection states) are pulled here,
      // once per scrape, instead of being pushed on the hot path.
      collect() {
        for (const hook of hooks.messages) hook();
      },
    });
    this.duration = new FastHistogram({
      name: 'pythia_message_duration_seconds',
      help: 'Duration of one handler attempt, from its start to its result (the output write and the acknowledgement are not included).',
      labelNames: ['pipeline'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.inFlight = new Gauge({
      name: 'pythia_in_flight',
      help: 'Messages currently held by the dispatcher (running or being dead-lettered).',
      labelNames: ['pipeline'],
      registers,
      // Read at scrape time: the dispatcher's count changes twice per message.
      collect() {
        for (const hook of hooks.inFlight) hook();
      },
    });
    this.retries = new Counter({
      name: 'pythia_retries_total',
      help: 'Failed attempts that were scheduled for a retry.',
      labelNames: ['pipeline'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'pythia_dead_letter_total',
      help: 'Messages written to the dead letter, by reason.',
      labelNames: ['pipeline', 'reason'],
      registers,
    });
    this.breakerState = new Gauge({
      name: 'pythia_circuit_breaker_state',
      help: 'Circuit breaker: 0 closed, 1 half-open, 2 open.',
      labelNames: ['pipeline'],
      registers,
    });
    this.queueLength = new Gauge({
      name: 'pythia_redis_queue_length',
      help: 'Sampled LLEN of a list source and the summed length of its consumers\' processing hashes (key "{list}:processing:*"), or XLEN of a stream source.',
      labelNames: ['pipeline', 'key'],
      registers,
    });
    this.streamPending = new Gauge({
      name: 'pythia_redis_stream_pending',
      help: 'Sampled pending (delivered, unacknowledged) entries of the consumer group (XINFO GROUPS).',
      labelNames: ['pipeline', 'group'],
      registers,
    });
    this.streamLag = new Gauge({
      name: 'pythia_redis_stream_lag',
      help: 'Sampled entries not yet delivered to the consumer group (XINFO GROUPS lag, Redis 7+).',
      labelNames: ['pipeline', 'group'],
      registers,
    });
    this.connections = new Gauge({
      name: 'pythia_redis_connections',
      help: 'Redis connections of the pipeline by state (ready, connecting, reconnecting, closed), read at scrape time.',
      labelNames: ['pipeline', 'state'],
      registers,
      collect() {
        for (const hook of hooks.connections) hook();
      },
    });
    this.memoryUsed = new Gauge({
      name: 'pythia_redis_memory_used_bytes',
      help: 'Sampled used_memory from INFO memory of the Redis server (the last pipeline sampled, when several servers are used).',
      registers,
    });
    this.sampleFailures = new Counter({
      name: 'pythia_redis_sample_failures_total',
      help: 'Redis gauge samples that failed or were skipped because the connection was not ready.',
      labelNames: ['pipeline'],
      registers,
    });
    this.rateLimitWait = new Counter({
      name: 'pythia_rate_limit_wait_seconds_total',
      help: 'Seconds the dispatcher waited for rate_limit permits before fetching or retrying (0 without a rate_limit).',
      labelNames: ['pipeline'],
      registers,
    });
    if (options.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: registry });
      for (const name of DROPPED_DEFAULT_METRICS) registry.removeSingleMetric(name);
    }
  }

  /** Runs `hook` whenever `metric` is collected (at every scrape). Returns a remover. */
  onScrape(metric: 'messages' | 'connections' | 'inFlight', hook: ScrapeHook): () => void {
    const list = this.hooks[metric];
    list.push(hook);
    return () => {
      const i = list.indexOf(hook);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /** The text exposition format, as served on metrics.path. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
