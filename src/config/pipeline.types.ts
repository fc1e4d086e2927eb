/* eslint-disable */
/**
 * Generated from schema/pipeline.schema.json by `npm run types` (json-schema-to-typescript).
 * Never edit by hand: the test suite fails when this file drifts from the schema.
 *
 * PipelineFile is what a user may write; PipelineConfig is what the runtime receives after
 * validation, with every default applied (so every field that has a default is present).
 */

/**
 * One Pythia pipeline: where messages come from, which handler processes them, how failures are retried, where dead letters and results go, and which metrics are exposed.
 */
export interface PipelineFile {
  /**
   * Version of the pipeline DSL. Only 1 exists.
   */
  version?: 1;
  /**
   * Pipeline name: used in metric labels, consumer names and logs.
   */
  name: string;
  /**
   * Broker kind, for compatibility with PYTHIA_BROKER_TYPE. Only redis is supported.
   */
  broker?: "redis";
  /**
   * Connection to Redis. Use url, or host/port/db, or cluster, or sentinel.
   */
  redis?: {
    /**
     * redis:// or rediss:// (TLS) URL; user:password@ is allowed. When set, host/port/db/username/password must not be. Default: built from host, port and db.
     */
    url?: string;
    /**
     * Redis host, when url is not used.
     */
    host?: string;
    /**
     * Redis port, when url is not used.
     */
    port?: number;
    /**
     * Database number.
     */
    db?: number;
    /**
     * ACL username (Redis 6+). Empty: the default user.
     */
    username?: string;
    /**
     * Password (or ACL password). Empty: no AUTH. Never logged.
     */
    password?: string;
    /**
     * TLS options; implied by a rediss:// URL.
     */
    tls?: {
      /**
       * Use TLS even with a redis:// URL or host/port.
       */
      enabled?: boolean;
      /**
       * PEM file of the CA that signed the server certificate, relative to this file. Empty: the system CAs.
       */
      ca_file?: string;
      /**
       * PEM client certificate for mutual TLS, relative to this file.
       */
      cert_file?: string;
      /**
       * PEM private key of the client certificate, relative to this file.
       */
      key_file?: string;
      /**
       * Reject servers whose certificate does not verify.
       */
      reject_unauthorized?: boolean;
    };
    /**
     * Redis Cluster mode (ioredis Cluster).
     */
    cluster?: {
      /**
       * Seed nodes as redis:// or rediss:// URLs.
       *
       * @minItems 1
       */
      nodes: [string, ...string[]];
    };
    /**
     * Redis Sentinel mode.
     */
    sentinel?: {
      /**
       * Name of the monitored master.
       */
      name?: string;
      /**
       * Sentinel addresses as redis://host:port URLs.
       *
       * @minItems 1
       */
      nodes: [string, ...string[]];
      /**
       * Password of the sentinels themselves (not of the master). Never logged.
       */
      password?: string;
    };
    /**
     * Connections used for non-blocking commands (acks, outputs, dead letters, gauges).
     */
    connection_pool_size?: number;
    /**
     * Enable TCP keep-alive on every connection.
     */
    socket_keepalive?: boolean;
    /**
     * A command with no reply after this long fails and the connection is re-established (0: no timeout). Blocking reads get block_timeout_ms on top.
     */
    socket_timeout_ms?: number;
    /**
     * Time allowed to establish a connection.
     */
    connection_timeout_ms?: number;
    /**
     * Reconnect and retry commands after a socket timeout.
     */
    retry_on_timeout?: boolean;
    /**
     * Seconds between PINGs on idle connections (0: off).
     */
    health_check_interval_s?: number;
  };
  /**
   * Where messages come from: exactly one of list, stream or channel.
   */
  source: {
    /**
     * A Redis list used as a FIFO queue: producers LPUSH, Pythia takes from the right (see pop_from).
     */
    list?: {
      /**
       * The list key.
       */
      key: string;
      /**
       * Items taken per round trip.
       */
      batch_size?: number;
      /**
       * How long a fetch blocks when the list is empty.
       */
      block_timeout_ms?: number;
      /**
       * What a crash may cost.
       */
      delivery?: "at-least-once" | "at-most-once";
      /**
       * Consumer name used in the processing hash {key}:processing:<consumer> (at-most-once: in {key}:oversized:<consumer>, where items larger than message.max_bytes wait for their dead letter). Empty: <hostname>-<pid>-<random>, unique per process. A name given here must be one process's at a time.
       */
      consumer?: string;
      /**
       * A consumer whose heartbeat is older than this is dead: its processing hash goes back to the queue.
       */
      heartbeat_ttl_ms?: number;
      /**
       * How often a live worker looks for dead consumers to recover.
       */
      recovery_interval_ms?: number;
      /**
       * at-least-once: an item recovered from crashed consumers so often that it has been delivered more than this many times goes to the dead letter (reason max_deliveries), so a message that kills its worker cannot loop.
       */
      max_deliveries?: number;
      /**
       * The end of the list Pythia takes items from. Producers push to the other end for first-in first-out; a push to this end jumps the queue.
       */
      pop_from?: "right" | "left";
    };
    /**
     * A Redis stream read through a consumer group.
     */
    stream?: {
      /**
       * The stream key.
       */
      key: string;
      /**
       * Consumer group; created (with MKSTREAM) when missing.
       */
      consumer_group?: string;
      /**
       * Consumer name; keep it stable across restarts so the worker re-reads its own pending entries. One live process per name: a second one fails to start. Empty: the hostname, or <hostname>-<pid>-<random> when another live process on this host holds it.
       */
      consumer?: string;
      /**
       * Where a newly created group starts: "$" new entries only, "0" the whole stream, or an entry id.
       */
      start_id?: string;
      /**
       * Entries read per XREADGROUP.
       */
      batch_size?: number;
      /**
       * How long XREADGROUP blocks when nothing is new.
       */
      block_timeout_ms?: number;
      /**
       * Pending entries idle this long are claimed (XAUTOCLAIM) from other, presumably dead, consumers.
       */
      claim_idle_ms?: number;
      /**
       * How often to look for idle pending entries to claim, and for crashed consumers.
       */
      claim_interval_ms?: number;
      /**
       * A consumer whose heartbeat is older than this is dead: its pending entries are claimed without waiting for claim_idle_ms, and once it has none it is removed from the group.
       */
      heartbeat_ttl_ms?: number;
      /**
       * An entry delivered more than this many times goes to the dead letter (reason max_deliveries).
       */
      max_deliveries?: number;
      /**
       * maxlen: once the stream is longer than this, trim the entries every consumer group has read and acknowledged (XTRIM MINID); an entry some group still needs is never removed, so the stream can stay longer (0: never trim).
       */
      max_stream_length?: number;
      /**
       * When the stream is trimmed. Either way only up to the oldest entry that some consumer group has not read or not acknowledged.
       */
      trim_strategy?: "maxlen" | "minid";
    };
    /**
     * Redis pub/sub channels. At-most-once: Redis keeps nothing for a worker that is down.
     */
    channel?: {
      /**
       * Channels to SUBSCRIBE to.
       */
      channels?: string[];
      /**
       * Glob patterns to PSUBSCRIBE to.
       */
      patterns?: string[];
      /**
       * Messages held while handlers are busy; beyond this they are dropped and counted.
       */
      buffer?: number;
    };
  };
  /**
   * How message bodies are decoded and checked.
   */
  message?: {
    /**
     * How the body reaches the handler.
     */
    format?: "json" | "text" | "binary";
    /**
     * Path (relative to this file) of a JSON Schema for the body. Invalid bodies go to the dead letter; `pythia types` generates handler types from it. Empty: no check.
     */
    schema?: string;
    /**
     * Bodies larger than this go to the dead letter (reason too_large) and never reach the handler.
     */
    max_bytes?: number;
    /**
     * How a body and its headers are packed in a list item, channel message or stream entry (docs/headers.md).
     */
    envelope?: "none" | "pythia";
  };
  /**
   * What processes each message: exactly one of module or command.
   */
  handler: {
    /**
     * Path (relative to this file) of a .ts, .mts, .cts, .js, .mjs or .cjs module; a .ts or .js file is ESM or CommonJS as its nearest package.json says.
     */
    module?: string;
    /**
     * Name of the exported handler function.
     */
    export?: string;
    /**
     * Executable and arguments, run with execa and never through a shell.
     *
     * @minItems 1
     */
    command?: [string, ...string[]];
    /**
     * How command processes are used.
     */
    mode?: "per-message" | "persistent";
    /**
     * Extra environment variables for the command.
     */
    env?: {
      [k: string]: string | undefined;
    };
    /**
     * Which of the worker's environment variables the command inherits (handler.env and PYTHIA_* are always set). all-except-credentials: all but the ones that hold this pipeline's Redis credentials (those its redis keys reference, REDIS_PASSWORD, REDIS_URL). all: every one. none: only PATH. A list of names: those and PATH.
     */
    env_inherit?: ("all-except-credentials" | "all" | "none") | string[];
    /**
     * Working directory of the command, relative to this file.
     */
    cwd?: string;
    /**
     * Exit codes that mean a permanent failure (straight to the dead letter, no retry).
     */
    permanent_exit_codes?: number[];
    /**
     * Number of persistent processes.
     */
    instances?: number;
    /**
     * Hands the handler messages in batches: a module export receives Message[] and returns one result per message (an Error element fails that message alone); a persistent command gets one {"id","batch":[...]} line per batch (docs/batch-handlers.md). Each message of a batch holds one concurrency slot. Not for per-message commands. Absent: one message per call.
     */
    batch?: {
      /**
       * Most messages in one batch; must not exceed concurrency.
       */
      max_size: number;
      /**
       * A batch that is not full is handed over this long after its first message arrived.
       */
      max_wait_ms?: number;
    };
  };
  /**
   * Messages in flight at once across the whole pipeline.
   */
  concurrency?: number;
  /**
   * Flow control: at most `max` messages per `per_ms` milliseconds, paced evenly (one permit every per_ms/max ms, with a burst allowance of 100 ms worth of permits, at least 1). A permit is taken before a message is fetched, so nothing waits fetched; a retry takes a permit too. Absent: no limit. See docs/flow-control.md.
   */
  rate_limit?: {
    /**
     * Messages allowed per per_ms.
     */
    max: number;
    /**
     * The period, in milliseconds, that max applies to.
     */
    per_ms?: number;
    /**
     * Who shares the limit.
     */
    scope?: "global" | "worker";
  };
  /**
   * Flow control: messages with the same key are processed one at a time and in source order (different keys in parallel, up to concurrency), across every worker of the pipeline. Absent: no ordering. See docs/flow-control.md for what is and is not guaranteed.
   */
  ordering?: {
    /**
     * Where the key is: a JSON pointer into the body (RFC 6901, e.g. /customer/id; needs message.format: json) or header:NAME (a message header). A message without the key is processed without ordering.
     */
    key: string;
    /**
     * Messages of one key in flight at once. 1: one at a time, in source order. More: they start in source order and may finish in any order.
     */
    max_in_flight_per_key?: number;
    /**
     * How long the place in a key's order of a worker that is gone (crashed, stopped, or unheard of for 3 s) is kept for its unfinished messages: one that is redelivered within this time (a list recovers a crashed consumer's items after heartbeat_ttl_ms) takes its place back; past it, the other workers stop waiting for it.
     */
    lease_ttl_ms?: number;
  };
  /**
   * Retries, timeouts and the circuit breaker.
   */
  resilience?: {
    /**
     * Retries after the first attempt before the message goes to the dead letter.
     */
    max_retries?: number;
    /**
     * Delay before the first retry.
     */
    retry_delay_ms?: number;
    /**
     * Multiplier: delay = retry_delay_ms * retry_backoff^(attempt-1), capped at retry_max_delay_ms.
     */
    retry_backoff?: number;
    /**
     * Upper bound of a retry delay.
     */
    retry_max_delay_ms?: number;
    /**
     * Each delay varies by up to this fraction either way.
     */
    retry_jitter?: number;
    /**
     * An attempt running longer fails: the AbortSignal fires and a late result is discarded.
     */
    processing_timeout_ms?: number;
    /**
     * Stops fetching after consecutive failures, so nothing is consumed only to fail.
     */
    circuit_breaker?: {
      /**
       * Whether the breaker is used.
       */
      enabled?: boolean;
      /**
       * Consecutive failures that open the breaker.
       */
      failure_threshold?: number;
      /**
       * Open to half-open after this long.
       */
      reset_timeout_ms?: number;
      /**
       * Trial messages let through while half-open.
       */
      half_open_max_calls?: number;
    };
  };
  /**
   * Where failed messages go: one of list or stream. Absent: a list named "<source key>:dead" (channel sources: "pythia:<name>:dead").
   */
  dead_letter?: {
    /**
     * List key (entries are LPUSHed as JSON).
     */
    list?: string;
    /**
     * Write dead letters to a Redis stream with XADD.
     */
    stream?: {
      /**
       * Stream key.
       */
      key: string;
      /**
       * Approximate MAXLEN applied on every XADD (0: never trimmed).
       */
      max_stream_length?: number;
    };
  };
  /**
   * Where a handler's return value goes: one of list, stream or channel. Absent: results are discarded.
   */
  output?: {
    /**
     * List key; results are LPUSHed (RPUSHed with envelope: pythia).
     */
    list?: string;
    /**
     * Write results to a Redis stream with XADD.
     */
    stream?: {
      /**
       * Stream key.
       */
      key: string;
      /**
       * Approximate MAXLEN applied on every XADD (0: never trimmed).
       */
      max_stream_length?: number;
    };
    /**
     * Channel; results are PUBLISHed.
     */
    channel?: string;
    /**
     * How results are packed (see message.envelope).
     */
    envelope?: "none" | "pythia";
  };
  /**
   * Prometheus metrics and health endpoints.
   */
  metrics?: {
    /**
     * Serve /metrics, /livez and /readyz.
     */
    enabled?: boolean;
    /**
     * Address the HTTP server listens on.
     */
    host?: string;
    /**
     * Port of the HTTP server (0: any free port).
     */
    port?: number;
    /**
     * Path of the metrics endpoint.
     */
    path?: string;
    /**
     * Redis-side gauges, sampled in one pipelined round trip.
     */
    redis?: {
      /**
       * LLEN / XLEN, processing-list length, stream lag and pending count.
       */
      queue_length?: boolean;
      /**
       * Connection states.
       */
      connection_pool?: boolean;
      /**
       * INFO memory used_memory.
       */
      memory_usage?: boolean;
      /**
       * Sampling interval.
       */
      interval_ms?: number;
    };
  };
  /**
   * Graceful shutdown.
   */
  shutdown?: {
    /**
     * On SIGTERM/SIGINT: stop fetching and let in-flight messages finish for at most this long.
     */
    grace_period_ms?: number;
  };
  /**
   * OpenTelemetry tracing (docs/tracing.md): a CONSUMER span per attempt, continued from the W3C traceparent header, exported over OTLP/HTTP. Off by default; the OpenTelemetry packages are loaded only when enabled. OTEL_SDK_DISABLED=true turns it off.
   */
  tracing?: {
    /**
     * Export spans of this pipeline.
     */
    enabled?: boolean;
    /**
     * OTLP/HTTP base URL of the collector (Jaeger, Tempo, an OpenTelemetry Collector); /v1/traces is appended unless the URL already ends with it. Default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is), else OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces, else http://localhost:4318/v1/traces.
     */
    endpoint?: string;
    /**
     * OTLP encoding. Default: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf.
     */
    protocol?: "http/protobuf" | "http/json";
    /**
     * The service.name resource attribute. Default: OTEL_SERVICE_NAME, else pythia.
     */
    service_name?: string;
    /**
     * Share of the traces that start at this worker (no traceparent, or the producer's trace was sampled out) that are recorded, 0 to 1. A message whose traceparent says sampled is always recorded.
     */
    sample_ratio?: number;
    /**
     * HTTP headers sent with every export (an API key: use ${VAR}); their values are never logged. Merged over OTEL_EXPORTER_OTLP_HEADERS.
     */
    headers?: {
      [k: string]: string | undefined;
    };
  };
}

/**
 * One Pythia pipeline: where messages come from, which handler processes them, how failures are retried, where dead letters and results go, and which metrics are exposed.
 */
export interface PipelineConfig {
  /**
   * Version of the pipeline DSL. Only 1 exists.
   */
  version: 1;
  /**
   * Pipeline name: used in metric labels, consumer names and logs.
   */
  name: string;
  /**
   * Broker kind, for compatibility with PYTHIA_BROKER_TYPE. Only redis is supported.
   */
  broker: "redis";
  /**
   * Connection to Redis. Use url, or host/port/db, or cluster, or sentinel.
   */
  redis: {
    /**
     * redis:// or rediss:// (TLS) URL; user:password@ is allowed. When set, host/port/db/username/password must not be. Default: built from host, port and db.
     */
    url?: string;
    /**
     * Redis host, when url is not used.
     */
    host: string;
    /**
     * Redis port, when url is not used.
     */
    port: number;
    /**
     * Database number.
     */
    db: number;
    /**
     * ACL username (Redis 6+). Empty: the default user.
     */
    username: string;
    /**
     * Password (or ACL password). Empty: no AUTH. Never logged.
     */
    password: string;
    /**
     * TLS options; implied by a rediss:// URL.
     */
    tls: {
      /**
       * Use TLS even with a redis:// URL or host/port.
       */
      enabled: boolean;
      /**
       * PEM file of the CA that signed the server certificate, relative to this file. Empty: the system CAs.
       */
      ca_file: string;
      /**
       * PEM client certificate for mutual TLS, relative to this file.
       */
      cert_file: string;
      /**
       * PEM private key of the client certificate, relative to this file.
       */
      key_file: string;
      /**
       * Reject servers whose certificate does not verify.
       */
      reject_unauthorized: boolean;
    };
    /**
     * Redis Cluster mode (ioredis Cluster).
     */
    cluster?: {
      /**
       * Seed nodes as redis:// or rediss:// URLs.
       *
       * @minItems 1
       */
      nodes: [string, ...string[]];
    };
    /**
     * Redis Sentinel mode.
     */
    sentinel?: {
      /**
       * Name of the monitored master.
       */
      name: string;
      /**
       * Sentinel addresses as redis://host:port URLs.
       *
       * @minItems 1
       */
      nodes: [string, ...string[]];
      /**
       * Password of the sentinels themselves (not of the master). Never logged.
       */
      password: string;
    };
    /**
     * Connections used for non-blocking commands (acks, outputs, dead letters, gauges).
     */
    connection_pool_size: number;
    /**
     * Enable TCP keep-alive on every connection.
     */
    socket_keepalive: boolean;
    /**
     * A command with no reply after this long fails and the connection is re-established (0: no timeout). Blocking reads get block_timeout_ms on top.
     */
    socket_timeout_ms: number;
    /**
     * Time allowed to establish a connection.
     */
    connection_timeout_ms: number;
    /**
     * Reconnect and retry commands after a socket timeout.
     */
    retry_on_timeout: boolean;
    /**
     * Seconds between PINGs on idle connections (0: off).
     */
    health_check_interval_s: number;
  };
  /**
   * Where messages come from: exactly one of list, stream or channel.
   */
  source: {
    /**
     * A Redis list used as a FIFO queue: producers LPUSH, Pythia takes from the right (see pop_from).
     */
    list?: {
      /**
       * The list key.
       */
      key: string;
      /**
       * Items taken per round trip.
       */
      batch_size: number;
      /**
       * How long a fetch blocks when the list is empty.
       */
      block_timeout_ms: number;
      /**
       * What a crash may cost.
       */
      delivery: "at-least-once" | "at-most-once";
      /**
       * Consumer name used in the processing hash {key}:processing:<consumer> (at-most-once: in {key}:oversized:<consumer>, where items larger than message.max_bytes wait for their dead letter). Empty: <hostname>-<pid>-<random>, unique per process. A name given here must be one process's at a time.
       */
      consumer: string;
      /**
       * A consumer whose heartbeat is older than this is dead: its processing hash goes back to the queue.
       */
      heartbeat_ttl_ms: number;
      /**
       * How often a live worker looks for dead consumers to recover.
       */
      recovery_interval_ms: number;
      /**
       * at-least-once: an item recovered from crashed consumers so often that it has been delivered more than this many times goes to the dead letter (reason max_deliveries), so a message that kills its worker cannot loop.
       */
      max_deliveries: number;
      /**
       * The end of the list Pythia takes items from. Producers push to the other end for first-in first-out; a push to this end jumps the queue.
       */
      pop_from: "right" | "left";
    };
    /**
     * A Redis stream read through a consumer group.
     */
    stream?: {
      /**
       * The stream key.
       */
      key: string;
      /**
       * Consumer group; created (with MKSTREAM) when missing.
       */
      consumer_group: string;
      /**
       * Consumer name; keep it stable across restarts so the worker re-reads its own pending entries. One live process per name: a second one fails to start. Empty: the hostname, or <hostname>-<pid>-<random> when another live process on this host holds it.
       */
      consumer: string;
      /**
       * Where a newly created group starts: "$" new entries only, "0" the whole stream, or an entry id.
       */
      start_id: string;
      /**
       * Entries read per XREADGROUP.
       */
      batch_size: number;
      /**
       * How long XREADGROUP blocks when nothing is new.
       */
      block_timeout_ms: number;
      /**
       * Pending entries idle this long are claimed (XAUTOCLAIM) from other, presumably dead, consumers.
       */
      claim_idle_ms: number;
      /**
       * How often to look for idle pending entries to claim, and for crashed consumers.
       */
      claim_interval_ms: number;
      /**
       * A consumer whose heartbeat is older than this is dead: its pending entries are claimed without waiting for claim_idle_ms, and once it has none it is removed from the group.
       */
      heartbeat_ttl_ms: number;
      /**
       * An entry delivered more than this many times goes to the dead letter (reason max_deliveries).
       */
      max_deliveries: number;
      /**
       * maxlen: once the stream is longer than this, trim the entries every consumer group has read and acknowledged (XTRIM MINID); an entry some group still needs is never removed, so the stream can stay longer (0: never trim).
       */
      max_stream_length: number;
      /**
       * When the stream is trimmed. Either way only up to the oldest entry that some consumer group has not read or not acknowledged.
       */
      trim_strategy: "maxlen" | "minid";
    };
    /**
     * Redis pub/sub channels. At-most-once: Redis keeps nothing for a worker that is down.
     */
    channel?: {
      /**
       * Channels to SUBSCRIBE to.
       */
      channels: string[];
      /**
       * Glob patterns to PSUBSCRIBE to.
       */
      patterns: string[];
      /**
       * Messages held while handlers are busy; beyond this they are dropped and counted.
       */
      buffer: number;
    };
  };
  /**
   * How message bodies are decoded and checked.
   */
  message: {
    /**
     * How the body reaches the handler.
     */
    format: "json" | "text" | "binary";
    /**
     * Path (relative to this file) of a JSON Schema for the body. Invalid bodies go to the dead letter; `pythia types` generates handler types from it. Empty: no check.
     */
    schema: string;
    /**
     * Bodies larger than this go to the dead letter (reason too_large) and never reach the handler.
     */
    max_bytes: number;
    /**
     * How a body and its headers are packed in a list item, channel message or stream entry (docs/headers.md).
     */
    envelope: "none" | "pythia";
  };
  /**
   * What processes each message: exactly one of module or command.
   */
  handler: {
    /**
     * Path (relative to this file) of a .ts, .mts, .cts, .js, .mjs or .cjs module; a .ts or .js file is ESM or CommonJS as its nearest package.json says.
     */
    module?: string;
    /**
     * Name of the exported handler function.
     */
    export: string;
    /**
     * Executable and arguments, run with execa and never through a shell.
     *
     * @minItems 1
     */
    command?: [string, ...string[]];
    /**
     * How command processes are used.
     */
    mode: "per-message" | "persistent";
    /**
     * Extra environment variables for the command.
     */
    env: {
      [k: string]: string | undefined;
    };
    /**
     * Which of the worker's environment variables the command inherits (handler.env and PYTHIA_* are always set). all-except-credentials: all but the ones that hold this pipeline's Redis credentials (those its redis keys reference, REDIS_PASSWORD, REDIS_URL). all: every one. none: only PATH. A list of names: those and PATH.
     */
    env_inherit: ("all-except-credentials" | "all" | "none") | string[];
    /**
     * Working directory of the command, relative to this file.
     */
    cwd: string;
    /**
     * Exit codes that mean a permanent failure (straight to the dead letter, no retry).
     */
    permanent_exit_codes: number[];
    /**
     * Number of persistent processes.
     */
    instances: number;
    /**
     * Hands the handler messages in batches: a module export receives Message[] and returns one result per message (an Error element fails that message alone); a persistent command gets one {"id","batch":[...]} line per batch (docs/batch-handlers.md). Each message of a batch holds one concurrency slot. Not for per-message commands. Absent: one message per call.
     */
    batch?: {
      /**
       * Most messages in one batch; must not exceed concurrency.
       */
      max_size: number;
      /**
       * A batch that is not full is handed over this long after its first message arrived.
       */
      max_wait_ms: number;
    };
  };
  /**
   * Messages in flight at once across the whole pipeline.
   */
  concurrency: number;
  /**
   * Flow control: at most `max` messages per `per_ms` milliseconds, paced evenly (one permit every per_ms/max ms, with a burst allowance of 100 ms worth of permits, at least 1). A permit is taken before a message is fetched, so nothing waits fetched; a retry takes a permit too. Absent: no limit. See docs/flow-control.md.
   */
  rate_limit?: {
    /**
     * Messages allowed per per_ms.
     */
    max: number;
    /**
     * The period, in milliseconds, that max applies to.
     */
    per_ms: number;
    /**
     * Who shares the limit.
     */
    scope: "global" | "worker";
  };
  /**
   * Flow control: messages with the same key are processed one at a time and in source order (different keys in parallel, up to concurrency), across every worker of the pipeline. Absent: no ordering. See docs/flow-control.md for what is and is not guaranteed.
   */
  ordering?: {
    /**
     * Where the key is: a JSON pointer into the body (RFC 6901, e.g. /customer/id; needs message.format: json) or header:NAME (a message header). A message without the key is processed without ordering.
     */
    key: string;
    /**
     * Messages of one key in flight at once. 1: one at a time, in source order. More: they start in source order and may finish in any order.
     */
    max_in_flight_per_key: number;
    /**
     * How long the place in a key's order of a worker that is gone (crashed, stopped, or unheard of for 3 s) is kept for its unfinished messages: one that is redelivered within this time (a list recovers a crashed consumer's items after heartbeat_ttl_ms) takes its place back; past it, the other workers stop waiting for it.
     */
    lease_ttl_ms: number;
  };
  /**
   * Retries, timeouts and the circuit breaker.
   */
  resilience: {
    /**
     * Retries after the first attempt before the message goes to the dead letter.
     */
    max_retries: number;
    /**
     * Delay before the first retry.
     */
    retry_delay_ms: number;
    /**
     * Multiplier: delay = retry_delay_ms * retry_backoff^(attempt-1), capped at retry_max_delay_ms.
     */
    retry_backoff: number;
    /**
     * Upper bound of a retry delay.
     */
    retry_max_delay_ms: number;
    /**
     * Each delay varies by up to this fraction either way.
     */
    retry_jitter: number;
    /**
     * An attempt running longer fails: the AbortSignal fires and a late result is discarded.
     */
    processing_timeout_ms: number;
    /**
     * Stops fetching after consecutive failures, so nothing is consumed only to fail.
     */
    circuit_breaker: {
      /**
       * Whether the breaker is used.
       */
      enabled: boolean;
      /**
       * Consecutive failures that open the breaker.
       */
      failure_threshold: number;
      /**
       * Open to half-open after this long.
       */
      reset_timeout_ms: number;
      /**
       * Trial messages let through while half-open.
       */
      half_open_max_calls: number;
    };
  };
  /**
   * Where failed messages go: one of list or stream. Absent: a list named "<source key>:dead" (channel sources: "pythia:<name>:dead").
   */
  dead_letter: {
    /**
     * List key (entries are LPUSHed as JSON).
     */
    list?: string;
    /**
     * Write dead letters to a Redis stream with XADD.
     */
    stream?: {
      /**
       * Stream key.
       */
      key: string;
      /**
       * Approximate MAXLEN applied on every XADD (0: never trimmed).
       */
      max_stream_length: number;
    };
  };
  /**
   * Where a handler's return value goes: one of list, stream or channel. Absent: results are discarded.
   */
  output: {
    /**
     * List key; results are LPUSHed (RPUSHed with envelope: pythia).
     */
    list?: string;
    /**
     * Write results to a Redis stream with XADD.
     */
    stream?: {
      /**
       * Stream key.
       */
      key: string;
      /**
       * Approximate MAXLEN applied on every XADD (0: never trimmed).
       */
      max_stream_length: number;
    };
    /**
     * Channel; results are PUBLISHed.
     */
    channel?: string;
    /**
     * How results are packed (see message.envelope).
     */
    envelope: "none" | "pythia";
  };
  /**
   * Prometheus metrics and health endpoints.
   */
  metrics: {
    /**
     * Serve /metrics, /livez and /readyz.
     */
    enabled: boolean;
    /**
     * Address the HTTP server listens on.
     */
    host: string;
    /**
     * Port of the HTTP server (0: any free port).
     */
    port: number;
    /**
     * Path of the metrics endpoint.
     */
    path: string;
    /**
     * Redis-side gauges, sampled in one pipelined round trip.
     */
    redis: {
      /**
       * LLEN / XLEN, processing-list length, stream lag and pending count.
       */
      queue_length: boolean;
      /**
       * Connection states.
       */
      connection_pool: boolean;
      /**
       * INFO memory used_memory.
       */
      memory_usage: boolean;
      /**
       * Sampling interval.
       */
      interval_ms: number;
    };
  };
  /**
   * Graceful shutdown.
   */
  shutdown: {
    /**
     * On SIGTERM/SIGINT: stop fetching and let in-flight messages finish for at most this long.
     */
    grace_period_ms: number;
  };
  /**
   * OpenTelemetry tracing (docs/tracing.md): a CONSUMER span per attempt, continued from the W3C traceparent header, exported over OTLP/HTTP. Off by default; the OpenTelemetry packages are loaded only when enabled. OTEL_SDK_DISABLED=true turns it off.
   */
  tracing: {
    /**
     * Export spans of this pipeline.
     */
    enabled: boolean;
    /**
     * OTLP/HTTP base URL of the collector (Jaeger, Tempo, an OpenTelemetry Collector); /v1/traces is appended unless the URL already ends with it. Default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is), else OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces, else http://localhost:4318/v1/traces.
     */
    endpoint?: string;
    /**
     * OTLP encoding. Default: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf.
     */
    protocol?: "http/protobuf" | "http/json";
    /**
     * The service.name resource attribute. Default: OTEL_SERVICE_NAME, else pythia.
     */
    service_name?: string;
    /**
     * Share of the traces that start at this worker (no traceparent, or the producer's trace was sampled out) that are recorded, 0 to 1. A message whose traceparent says sampled is always recorded.
     */
    sample_ratio: number;
    /**
     * HTTP headers sent with every export (an API key: use ${VAR}); their values are never logged. Merged over OTEL_EXPORTER_OTLP_HEADERS.
     */
    headers: {
      [k: string]: string | undefined;
    };
  };
}
