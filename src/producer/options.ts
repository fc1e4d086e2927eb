/** What a Producer is given and what it answers: its options, a message's send options, results and errors. */
import type { PipelineConfig } from '../config/index.ts';
import type { Headers } from '../redis/envelope.ts';
import type { EnvelopeName } from '../redis/envelopes.ts';
import type { ProducerTracingOption } from '../tracing/producer-trace.ts';

/** Where messages go: what the pipeline's source reads. */
export type ProducerTarget =
  { list: string } | { stream: string; /** Approximate MAXLEN on every XADD (only with trim). */ maxLength?: number } | { channel: string };

export interface ProducerOptions {
  /** Check every body as the worker will (max_bytes, JSON, message.schema) before sending it. Default true. */
  validate?: boolean;
  /**
   * Streams: XADD with MAXLEN ~ source.stream.max_stream_length. Default false: trimming at the producer
   * can delete entries the consumer group has not read yet (the worker trims what it acknowledged).
   */
  trim?: boolean;
  /** Channels: publish here instead of the source's first channel (required when it subscribes only to patterns). */
  channel?: string;
  /**
   * A PRODUCER span `send <destination>` per message, its W3C context sent in the `traceparent` /
   * `tracestate` headers (docs/tracing.md). `true`: the tracer provider registered with the OpenTelemetry
   * API (`trace.setGlobalTracerProvider`, or the one an OpenTelemetry SDK registers); or a TracerProvider.
   * Default false. A message whose headers already hold a traceparent is sent as it is, without a span.
   */
  tracing?: ProducerTracingOption;
  /**
   * How body and headers are packed (message.envelope): `none`, Pythia's own, or `pythia`, what Python
   * Pythia's consumers read (lists and channels: JSON {"body", "headers", "message_id"}; streams: a body
   * field and header_<name> fields). Default: the pipeline's message.envelope; `none` for Producer.connect.
   */
  envelope?: EnvelopeName;
}

export interface PipelineProducerOptions extends ProducerOptions {
  /** Replaces the file's connection settings (as `pythia run --redis-url`). */
  redisUrl?: string;
  /** Variables for `${VAR}` in the file, instead of process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface InlineProducerOptions extends ProducerOptions {
  /** A redis:// or rediss:// URL, or a pipeline `redis` section (TLS, ACL user, cluster, sentinel...). Default localhost:6379. */
  redis?: string | Record<string, unknown>;
  target: ProducerTarget;
  /** message.format of the consuming pipeline. Default json. */
  format?: PipelineConfig['message']['format'];
  /** A JSON Schema file that bodies must match (message.schema). */
  schema?: string;
  /** message.max_bytes of the consuming pipeline. Default 1 MiB. */
  maxBytes?: number;
  /** Names the connection (CLIENT LIST) and, in errors, the producer. Default "producer". */
  name?: string;
  /**
   * Lists: the end the consumers take from (source.list.pop_from); messages are pushed to the other end.
   * Default `left` with envelope `pythia` (Python Pythia's consumer BLPOPs), else `right`.
   */
  popFrom?: 'left' | 'right';
}

export interface SendOptions {
  /** Travel beside the body (see docs/headers.md); the handler reads them as message.headers. */
  headers?: Headers;
  /**
   * Streams: the entry id (XADD key <id>); default `*`, Redis assigns one. Lists and channels with
   * envelope `pythia`: the envelope's message_id (default null, as Python sends it without one).
   */
  id?: string;
  /**
   * Lists only: push to the end the consumers take from, so this message is taken before those waiting
   * (Python Pythia's `send(..., priority=True)`). Of several priority messages the last sent goes first.
   */
  priority?: boolean;
}

export interface Outgoing<Body> extends SendOptions {
  body: Body;
}

/** What Redis confirmed for one message. */
export interface SendResult {
  /** Streams: the entry id. */
  id?: string;
  /** Channels: how many subscribers received it (0: nobody was listening, and Redis keeps nothing). */
  receivers?: number;
}

/** Redis refused a write, or could not be reached in time. `sent` messages were confirmed before it. */
export class ProduceError extends Error {
  override readonly name = 'ProduceError';
  constructor(
    message: string,
    readonly sent: number,
  ) {
    super(message);
  }
}
