// Writes schema/pipeline.schema.json. The schema is authored here as a JS object because
// JSON has no comments; the JSON file is the artifact every tool reads (and is committed).
// Run: node scripts/gen-schema.mjs   (test/config/schema.test.ts fails when the committed file differs)
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ms = (description, def, min = 0, max = 86_400_000) => ({ type: 'integer', description, default: def, minimum: min, maximum: max });
const int = (description, def, min, max) => ({ type: 'integer', description, default: def, minimum: min, maximum: max });
const bool = (description, def) => ({ type: 'boolean', description, default: def });
const str = (description, def, extra = {}) => ({ type: 'string', description, default: def, ...extra });
/** A closed set of values, each with its own description (editors show it on hover and in completion). */
const choice = (description, def, values, type = 'string') => ({
  type,
  enum: Object.keys(values).map((v) => (type === 'integer' ? Number(v) : v)),
  enumDescriptions: Object.values(values),
  description,
  default: def,
});
const obj = (description, properties, extra = {}) => ({ type: 'object', description, additionalProperties: false, properties, ...extra });
const KEY = { type: 'string', minLength: 1, maxLength: 512, pattern: '^[^\\s]+$' };

const streamTarget = (what) =>
  obj(
    `Write ${what} to a Redis stream with XADD.`,
    {
      key: { ...KEY, description: 'Stream key.' },
      max_stream_length: int('Approximate MAXLEN applied on every XADD (0: never trimmed).', 0, 0, 1_000_000_000),
    },
    { required: ['key'] },
  );

export const schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://pythia.dev/schema/pipeline.schema.json',
  title: 'PipelineFile',
  description:
    'One Pythia pipeline: where messages come from, which handler processes them, how failures are retried, where dead letters and results go, and which metrics are exposed.',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'source', 'handler'],
  properties: {
    version: choice('Version of the pipeline DSL. Only 1 exists.', 1, { 1: 'The first and only version of the DSL.' }, 'integer'),
    name: {
      type: 'string',
      description: 'Pipeline name: used in metric labels, consumer names and logs.',
      pattern: '^[a-z0-9][a-z0-9_-]*$',
      maxLength: 64,
    },
    broker: choice('Broker kind, for compatibility with PYTHIA_BROKER_TYPE. Only redis is supported.', 'redis', {
      redis: 'Redis (standalone, Cluster or Sentinel): the only broker.',
    }),
    redis: obj(
      'Connection to Redis. Use url, or host/port/db, or cluster, or sentinel.',
      {
        url: {
          type: 'string',
          description:
            'redis:// or rediss:// (TLS) URL; user:password@ is allowed. When set, host/port/db/username/password must not be. Default: built from host, port and db.',
          pattern: '^rediss?://',
        },
        host: str('Redis host, when url is not used.', 'localhost', { minLength: 1 }),
        port: int('Redis port, when url is not used.', 6379, 1, 65535),
        db: int('Database number.', 0, 0, 1023),
        username: str('ACL username (Redis 6+). Empty: the default user.', ''),
        password: str('Password (or ACL password). Empty: no AUTH. Never logged.', ''),
        tls: obj(
          'TLS options; implied by a rediss:// URL.',
          {
            enabled: bool('Use TLS even with a redis:// URL or host/port.', false),
            ca_file: str('PEM file of the CA that signed the server certificate, relative to this file. Empty: the system CAs.', ''),
            cert_file: str('PEM client certificate for mutual TLS, relative to this file.', ''),
            key_file: str('PEM private key of the client certificate, relative to this file.', ''),
            reject_unauthorized: bool('Reject servers whose certificate does not verify.', true),
          },
          { default: {} },
        ),
        cluster: obj(
          'Redis Cluster mode (ioredis Cluster).',
          {
            nodes: {
              type: 'array',
              description: 'Seed nodes as redis:// or rediss:// URLs.',
              minItems: 1,
              items: { type: 'string', pattern: '^rediss?://' },
            },
          },
          { required: ['nodes'] },
        ),
        sentinel: obj(
          'Redis Sentinel mode.',
          {
            name: str('Name of the monitored master.', 'mymaster', { minLength: 1 }),
            nodes: {
              type: 'array',
              description: 'Sentinel addresses as redis://host:port URLs.',
              minItems: 1,
              items: { type: 'string', pattern: '^rediss?://' },
            },
            password: str('Password of the sentinels themselves (not of the master). Never logged.', ''),
          },
          { required: ['nodes'] },
        ),
        connection_pool_size: int('Connections used for non-blocking commands (acks, outputs, dead letters, gauges).', 4, 1, 64),
        socket_keepalive: bool('Enable TCP keep-alive on every connection.', true),
        socket_timeout_ms: ms(
          'A command with no reply after this long fails and the connection is re-established (0: no timeout). Blocking reads get block_timeout_ms on top.',
          5000,
          0,
          600_000,
        ),
        connection_timeout_ms: ms('Time allowed to establish a connection.', 10000, 100, 600_000),
        retry_on_timeout: bool('Reconnect and retry commands after a socket timeout.', true),
        health_check_interval_s: int('Seconds between PINGs on idle connections (0: off).', 30, 0, 3600),
      },
      { default: {} },
    ),
    source: {
      type: 'object',
      description: 'Where messages come from: exactly one of list, stream or channel.',
      additionalProperties: false,
      minProperties: 1,
      maxProperties: 1,
      properties: {
        list: obj(
          'A Redis list used as a FIFO queue: producers LPUSH, Pythia takes from the right (see pop_from).',
          {
            key: { ...KEY, description: 'The list key.' },
            batch_size: int('Items taken per round trip.', 100, 1, 10000),
            block_timeout_ms: ms('How long a fetch blocks when the list is empty.', 1000, 10, 300_000),
            delivery: choice('What a crash may cost.', 'at-least-once', {
              'at-least-once':
                "Items move into a per-consumer processing hash and are removed when done; a crashed consumer's items go back to the queue.",
              'at-most-once': 'Items are popped: faster, but in-flight items are lost on a crash.',
            }),
            consumer: str(
              "Consumer name used in the processing hash {key}:processing:<consumer> (at-most-once: in {key}:oversized:<consumer>, where items larger than message.max_bytes wait for their dead letter). Empty: <hostname>-<pid>-<random>, unique per process. A name given here must be one process's at a time.",
              '',
            ),
            heartbeat_ttl_ms: ms(
              'A consumer whose heartbeat is older than this is dead: its processing hash goes back to the queue.',
              15000,
              1000,
              3_600_000,
            ),
            recovery_interval_ms: ms('How often a live worker looks for dead consumers to recover.', 5000, 100, 3_600_000),
            max_deliveries: int(
              'at-least-once: an item recovered from crashed consumers so often that it has been delivered more than this many times goes to the dead letter (reason max_deliveries), so a message that kills its worker cannot loop.',
              5,
              1,
              1000,
            ),
            pop_from: choice(
              'The end of the list Pythia takes items from. Producers push to the other end for first-in first-out; a push to this end jumps the queue.',
              'right',
              {
                right: 'RPOP / BLMOVE RIGHT: FIFO with LPUSH producers (pythia produce, the Producer, Redis tools).',
                left: "LPOP / BLMOVE LEFT: FIFO with RPUSH producers, and LPUSHed items go first: Python Pythia's order (RedisListProducer RPUSHes, and LPUSHes priority=True messages; its consumer BLPOPs).",
              },
            ),
          },
          { required: ['key'] },
        ),
        stream: obj(
          'A Redis stream read through a consumer group.',
          {
            key: { ...KEY, description: 'The stream key.' },
            consumer_group: {
              type: 'string',
              minLength: 1,
              description: 'Consumer group; created (with MKSTREAM) when missing.',
              default: 'pythia',
            },
            consumer: str(
              'Consumer name; keep it stable across restarts so the worker re-reads its own pending entries. One live process per name: a second one fails to start. Empty: the hostname, or <hostname>-<pid>-<random> when another live process on this host holds it.',
              '',
            ),
            start_id: str('Where a newly created group starts: "$" new entries only, "0" the whole stream, or an entry id.', '$', {
              pattern: '^(\\$|0|\\d+(-\\d+)?)$',
            }),
            batch_size: int('Entries read per XREADGROUP.', 50, 1, 10000),
            block_timeout_ms: ms('How long XREADGROUP blocks when nothing is new.', 1000, 10, 300_000),
            claim_idle_ms: ms(
              'Pending entries idle this long are claimed (XAUTOCLAIM) from other, presumably dead, consumers.',
              60000,
              100,
              86_400_000,
            ),
            claim_interval_ms: ms('How often to look for idle pending entries to claim, and for crashed consumers.', 5000, 100, 3_600_000),
            heartbeat_ttl_ms: ms(
              'A consumer whose heartbeat is older than this is dead: its pending entries are claimed without waiting for claim_idle_ms, and once it has none it is removed from the group.',
              15000,
              1000,
              3_600_000,
            ),
            max_deliveries: int(
              'An entry delivered more than this many times goes to the dead letter (reason max_deliveries).',
              5,
              1,
              1000,
            ),
            max_stream_length: int(
              'maxlen: once the stream is longer than this, trim the entries every consumer group has read and acknowledged (XTRIM MINID); an entry some group still needs is never removed, so the stream can stay longer (0: never trim).',
              0,
              0,
              1_000_000_000,
            ),
            trim_strategy: choice(
              'When the stream is trimmed. Either way only up to the oldest entry that some consumer group has not read or not acknowledged.',
              'maxlen',
              {
                maxlen: 'Trim when the stream is longer than max_stream_length.',
                minid: 'Trim whenever something was acknowledged.',
              },
            ),
          },
          { required: ['key'] },
        ),
        channel: obj('Redis pub/sub channels. At-most-once: Redis keeps nothing for a worker that is down.', {
          channels: { type: 'array', description: 'Channels to SUBSCRIBE to.', items: { ...KEY }, uniqueItems: true, default: [] },
          patterns: { type: 'array', description: 'Glob patterns to PSUBSCRIBE to.', items: { ...KEY }, uniqueItems: true, default: [] },
          buffer: int('Messages held while handlers are busy; beyond this they are dropped and counted.', 10000, 1, 10_000_000),
        }),
      },
    },
    message: obj(
      'How message bodies are decoded and checked.',
      {
        format: choice('How the body reaches the handler.', 'json', {
          json: 'The body is parsed JSON; invalid JSON goes to the dead letter.',
          text: 'The body is a UTF-8 string.',
          binary: 'The body is a Buffer.',
        }),
        schema: str(
          'Path (relative to this file) of a JSON Schema for the body. Invalid bodies go to the dead letter; `pythia types` generates handler types from it. Empty: no check.',
          '',
        ),
        max_bytes: int(
          'Bodies larger than this go to the dead letter (reason too_large) and never reach the handler.',
          1048576,
          1,
          536_870_912,
        ),
        envelope: choice(
          'How a body and its headers are packed in a list item, channel message or stream entry (docs/headers.md).',
          'none',
          {
            none: "Pythia's own: a plain body, or the \\0pythia-headers envelope when there are headers; stream headers are h:<name> fields.",
            pythia:
              'Python Pythia\'s: list items and channel messages are JSON {"body", "headers", "message_id"} (anything else is dead-lettered as invalid_envelope); stream entries have a body field and header_<name> fields.',
          },
        ),
      },
      { default: {} },
    ),
    handler: {
      type: 'object',
      description: 'What processes each message: exactly one of module or command.',
      additionalProperties: false,
      properties: {
        module: {
          type: 'string',
          minLength: 1,
          pattern: '\\.(ts|mts|cts|js|mjs|cjs)$',
          description:
            'Path (relative to this file) of a .ts, .mts, .cts, .js, .mjs or .cjs module; a .ts or .js file is ESM or CommonJS as its nearest package.json says.',
        },
        export: str('Name of the exported handler function.', 'default', { minLength: 1, pattern: '^[A-Za-z_$][A-Za-z0-9_$]*$' }),
        command: {
          type: 'array',
          minItems: 1,
          items: { type: 'string', minLength: 1 },
          description: 'Executable and arguments, run with execa and never through a shell.',
        },
        mode: choice('How command processes are used.', 'per-message', {
          'per-message': 'One process per message: the message on stdin, the result on stdout.',
          persistent: 'Long-lived processes speaking JSON lines, many requests in flight.',
        }),
        env: {
          type: 'object',
          description: 'Extra environment variables for the command.',
          additionalProperties: { type: 'string' },
          default: {},
        },
        env_inherit: {
          description:
            "Which of the worker's environment variables the command inherits (handler.env and PYTHIA_* are always set). all-except-credentials: all but the ones that hold this pipeline's Redis credentials (those its redis keys reference, REDIS_PASSWORD, REDIS_URL). all: every one. none: only PATH. A list of names: those and PATH.",
          default: 'all-except-credentials',
          oneOf: [
            { type: 'string', enum: ['all-except-credentials', 'all', 'none'] },
            { type: 'array', items: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }, uniqueItems: true },
          ],
        },
        cwd: str('Working directory of the command, relative to this file.', '.'),
        permanent_exit_codes: {
          type: 'array',
          description: 'Exit codes that mean a permanent failure (straight to the dead letter, no retry).',
          items: { type: 'integer', minimum: 1, maximum: 255 },
          uniqueItems: true,
          default: [],
        },
        instances: int('Number of persistent processes.', 1, 1, 256),
        batch: obj(
          'Hands the handler messages in batches: a module export receives Message[] and returns one result per message (an Error element fails that message alone); a persistent command gets one {"id","batch":[...]} line per batch (docs/batch-handlers.md). Each message of a batch holds one concurrency slot. Not for per-message commands. Absent: one message per call.',
          {
            max_size: {
              type: 'integer',
              description: 'Most messages in one batch; must not exceed concurrency.',
              minimum: 1,
              maximum: 100000,
            },
            max_wait_ms: ms('A batch that is not full is handed over this long after its first message arrived.', 50, 1, 3_600_000),
          },
          { required: ['max_size'] },
        ),
      },
      oneOf: [{ required: ['module'] }, { required: ['command'] }],
    },
    concurrency: int('Messages in flight at once across the whole pipeline.', 10, 1, 100000),
    rate_limit: obj(
      'Flow control: at most `max` messages per `per_ms` milliseconds, paced evenly (one permit every per_ms/max ms, with a burst allowance of 100 ms worth of permits, at least 1). A permit is taken before a message is fetched, so nothing waits fetched; a retry takes a permit too. Absent: no limit. See docs/flow-control.md.',
      {
        max: { type: 'integer', description: 'Messages allowed per per_ms.', minimum: 1, maximum: 1_000_000_000 },
        per_ms: ms('The period, in milliseconds, that max applies to.', 1000, 1, 86_400_000),
        scope: choice('Who shares the limit.', 'global', {
          global: 'Every worker of this pipeline, in every process, shares one limit kept in Redis.',
          worker: 'Each process running this pipeline has a limit of its own (no Redis round trip).',
        }),
      },
      { required: ['max'] },
    ),
    ordering: obj(
      'Flow control: messages with the same key are processed one at a time and in source order (different keys in parallel, up to concurrency), across every worker of the pipeline. Absent: no ordering. See docs/flow-control.md for what is and is not guaranteed.',
      {
        key: {
          type: 'string',
          description:
            'Where the key is: a JSON pointer into the body (RFC 6901, e.g. /customer/id; needs message.format: json) or header:NAME (a message header). A message without the key is processed without ordering.',
          minLength: 1,
          maxLength: 512,
        },
        max_in_flight_per_key: int(
          'Messages of one key in flight at once. 1: one at a time, in source order. More: they start in source order and may finish in any order.',
          1,
          1,
          1000,
        ),
        lease_ttl_ms: ms(
          "How long the place in a key's order of a worker that is gone (crashed, stopped, or unheard of for 3 s) is kept for its unfinished messages: one that is redelivered within this time (a list recovers a crashed consumer's items after heartbeat_ttl_ms) takes its place back; past it, the other workers stop waiting for it.",
          30000,
          1000,
          3_600_000,
        ),
      },
      { required: ['key'] },
    ),
    resilience: obj(
      'Retries, timeouts and the circuit breaker.',
      {
        max_retries: int('Retries after the first attempt before the message goes to the dead letter.', 5, 0, 1000),
        retry_delay_ms: ms('Delay before the first retry.', 1000, 0, 86_400_000),
        retry_backoff: {
          type: 'number',
          description: 'Multiplier: delay = retry_delay_ms * retry_backoff^(attempt-1), capped at retry_max_delay_ms.',
          default: 2.0,
          minimum: 1,
          maximum: 100,
        },
        retry_max_delay_ms: ms('Upper bound of a retry delay.', 60000, 0, 86_400_000),
        retry_jitter: {
          type: 'number',
          description: 'Each delay varies by up to this fraction either way.',
          default: 0.2,
          minimum: 0,
          maximum: 1,
        },
        processing_timeout_ms: ms(
          'An attempt running longer fails: the AbortSignal fires and a late result is discarded.',
          30000,
          1,
          86_400_000,
        ),
        circuit_breaker: obj(
          'Stops fetching after consecutive failures, so nothing is consumed only to fail.',
          {
            enabled: bool('Whether the breaker is used.', true),
            failure_threshold: int('Consecutive failures that open the breaker.', 5, 1, 100000),
            reset_timeout_ms: ms('Open to half-open after this long.', 30000, 1, 86_400_000),
            half_open_max_calls: int('Trial messages let through while half-open.', 1, 1, 10000),
          },
          { default: {} },
        ),
      },
      { default: {} },
    ),
    dead_letter: {
      type: 'object',
      description:
        'Where failed messages go: one of list or stream. Absent: a list named "<source key>:dead" (channel sources: "pythia:<name>:dead").',
      additionalProperties: false,
      maxProperties: 1,
      properties: {
        list: { ...KEY, description: 'List key (entries are LPUSHed as JSON).' },
        stream: streamTarget('dead letters'),
      },
      default: {},
    },
    output: {
      type: 'object',
      description: "Where a handler's return value goes: one of list, stream or channel. Absent: results are discarded.",
      additionalProperties: false,
      properties: {
        list: { ...KEY, description: 'List key; results are LPUSHed (RPUSHed with envelope: pythia).' },
        stream: streamTarget('results'),
        channel: { ...KEY, description: 'Channel; results are PUBLISHed.' },
        envelope: choice('How results are packed (see message.envelope).', 'none', {
          none: 'The result as it is: strings and Buffers verbatim, anything else as JSON; lists are LPUSHed.',
          pythia:
            'What Python Pythia\'s consumers read: lists and channels get JSON {"body", "headers", "message_id"} (lists RPUSHed, as RedisListProducer does), streams a body field.',
        }),
      },
      // At most one target; envelope only says how results are packed.
      // (type object: a scalar output is the type error alone, since required holds for anything that is not an object)
      not: {
        type: 'object',
        anyOf: [{ required: ['list', 'stream'] }, { required: ['list', 'channel'] }, { required: ['stream', 'channel'] }],
      },
      default: {},
    },
    metrics: obj(
      'Prometheus metrics and health endpoints.',
      {
        enabled: bool('Serve /metrics, /livez and /readyz.', true),
        host: str('Address the HTTP server listens on.', '0.0.0.0', { minLength: 1 }),
        port: int('Port of the HTTP server (0: any free port).', 9464, 0, 65535),
        path: str('Path of the metrics endpoint.', '/metrics', { pattern: '^/' }),
        redis: obj(
          'Redis-side gauges, sampled in one pipelined round trip.',
          {
            queue_length: bool('LLEN / XLEN, processing-list length, stream lag and pending count.', true),
            connection_pool: bool('Connection states.', true),
            memory_usage: bool('INFO memory used_memory.', true),
            interval_ms: ms('Sampling interval.', 5000, 100, 3_600_000),
          },
          { default: {} },
        ),
      },
      { default: {} },
    ),
    shutdown: obj(
      'Graceful shutdown.',
      {
        grace_period_ms: ms(
          'On SIGTERM/SIGINT: stop fetching and let in-flight messages finish for at most this long.',
          25000,
          0,
          3_600_000,
        ),
      },
      { default: {} },
    ),
    tracing: obj(
      'OpenTelemetry tracing (docs/tracing.md): a CONSUMER span per attempt, continued from the W3C traceparent header, exported over OTLP/HTTP. Off by default; the OpenTelemetry packages are loaded only when enabled. OTEL_SDK_DISABLED=true turns it off.',
      {
        enabled: bool('Export spans of this pipeline.', false),
        endpoint: {
          type: 'string',
          description:
            'OTLP/HTTP base URL of the collector (Jaeger, Tempo, an OpenTelemetry Collector); /v1/traces is appended unless the URL already ends with it. Default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is), else OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces, else http://localhost:4318/v1/traces.',
          pattern: '^https?://',
          maxLength: 2048,
        },
        // No schema default: an unset protocol lets the OTEL_* variables decide, as for endpoint and service_name.
        protocol: (({ default: _none, ...rest }) => rest)(
          choice(
            'OTLP encoding. Default: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf.',
            undefined,
            { 'http/protobuf': 'Protocol Buffers over HTTP (the OpenTelemetry default).', 'http/json': 'JSON over HTTP.' },
          ),
        ),
        service_name: {
          type: 'string',
          description: 'The service.name resource attribute. Default: OTEL_SERVICE_NAME, else pythia.',
          minLength: 1,
          maxLength: 256,
        },
        sample_ratio: {
          type: 'number',
          description:
            "Share of the traces that start at this worker (no traceparent, or the producer's trace was sampled out) that are recorded, 0 to 1. A message whose traceparent says sampled is always recorded.",
          default: 1,
          minimum: 0,
          maximum: 1,
        },
        headers: {
          type: 'object',
          description:
            'HTTP headers sent with every export (an API key: use ${VAR}); their values are never logged. Merged over OTEL_EXPORTER_OTLP_HEADERS.',
          additionalProperties: { type: 'string' },
          maxProperties: 64,
          default: {},
        },
      },
      { default: {} },
    ),
  },
};

/** Keywords only editors read; the strict schema that `pythia validate` compiles has none of them. */
const EDITOR_KEYWORDS = ['markdownDescription', 'enumDescriptions', 'markdownEnumDescriptions'];

/**
 * A `${VAR}`, `${VAR:-default}` or `${VAR:?message}` reference somewhere in a string, as
 * src/config/interpolate.ts substitutes it (`$${` is a literal `${`, hence the character before).
 */
export const ENV_REFERENCE = {
  type: 'string',
  pattern: '(^|[^$])\\$\\{[A-Za-z_][A-Za-z0-9_]*((:?-|:?\\?)[^}]*)?\\}',
  description:
    'An environment variable reference: ${VAR}, ${VAR:-default} or ${VAR:?message}. It is substituted when the file is loaded, and the result must be a valid value of this key.',
};

/** Scalars whose literal values the strict schema constrains beyond "any string". */
function constrainedScalar(node) {
  if (node.enum) return true;
  if (node.type === 'integer' || node.type === 'number' || node.type === 'boolean') return true;
  return node.type === 'string' && (node.pattern !== undefined || node.minLength !== undefined || node.maxLength !== undefined);
}

/** Hover text: yaml-language-server shows markdownDescription and nothing of `default`. */
function markdownOf(node) {
  const text = node.description ?? '';
  const isMapping = typeof node.default === 'object' && node.default !== null && !Array.isArray(node.default);
  if (node.default === undefined || isMapping) return text;
  return `${text}\n\nDefault: \`${JSON.stringify(node.default)}\``;
}

/**
 * The published schema (editors, third-party validators): the strict one where every constrained
 * scalar may also be an environment reference, since the loader substitutes those before it checks
 * the result against the strict schema. Hover text carries the default; enum values their own text.
 */
export function publish(node) {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties') out.properties = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, publish(sub)]));
    else if (key === 'items' || (key === 'additionalProperties' && typeof value === 'object')) out[key] = publish(value);
    else out[key] = value;
  }
  if (out.enumDescriptions) out.markdownEnumDescriptions = out.enumDescriptions;
  if (out.description !== undefined) out.markdownDescription = markdownOf(out);
  if (!constrainedScalar(out)) return out;
  const { description, markdownDescription, default: def, ...strict } = out;
  const wrapped = { description, markdownDescription, default: def, anyOf: [strict, { $ref: '#/definitions/envReference' }] };
  for (const [key, value] of Object.entries(wrapped)) if (value === undefined) delete wrapped[key];
  return wrapped;
}

function withoutEditorKeywords(node) {
  if (node === null || typeof node !== 'object') return node;
  if (Array.isArray(node)) return node.map(withoutEditorKeywords);
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key]) => !EDITOR_KEYWORDS.includes(key))
      .map(([key, value]) => [key, key === 'enum' || key === 'default' ? value : withoutEditorKeywords(value)]),
  );
}

/** What `pythia validate` compiles after substitution (src/config/schema.ts derives it from the published file). */
export const strictSchema = withoutEditorKeywords(schema);

export const publishedSchema = { ...publish(schema), definitions: { envReference: ENV_REFERENCE } };

export const schemaFile = fileURLToPath(new URL('../schema/pipeline.schema.json', import.meta.url));

/** The exact text of schema/pipeline.schema.json. */
export function schemaText() {
  return JSON.stringify(publishedSchema, null, 2) + '\n';
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(schemaFile, schemaText());
}
