/**
 * The OpenTelemetry side of tracing, loaded with import() only when a pipeline enables it: a tracer
 * provider per pipeline (its own exporter, resource and sampler), exporting in batches over OTLP/HTTP.
 * An unreachable collector never blocks nor fails message processing: the batch processor drops what
 * it cannot export (its queue is bounded) and the failure is logged, at most once a minute.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { setGlobalErrorHandler, W3CTraceContextPropagator } from '@opentelemetry/core';
import { defaultResource, detectResources, emptyResource, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Logger } from 'pino';
import { registerSecret, scrubSecrets } from '../redis/redact.ts';
import { OtelAttemptTrace, type AttemptSpanSettings } from './attempt-span.ts';
import { OtelBatchTrace } from './batch-span.ts';
import { ForwardingTracerProvider } from './global-provider.ts';
import type { AttemptTrace, BatchTrace, PipelineTracer, TracedBatchMember, TracedMessage, TracingSettings } from './types.ts';

export const DEFAULT_ENDPOINT = 'http://localhost:4318/v1/traces';
const PROTOCOLS = ['http/protobuf', 'http/json'] as const;
type Protocol = (typeof PROTOCOLS)[number];
/** One export request: an unreachable or slow collector holds nothing longer than this. */
const EXPORT_TIMEOUT_MS = 10_000;
const ERROR_LOG_INTERVAL_MS = 60_000;

/** tracing.endpoint is a base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is: the traces path is appended. */
export function tracesUrl(endpoint: string): string {
  const trimmed = endpoint.replace(/\/+$/, '');
  return trimmed.endsWith('/v1/traces') ? trimmed : `${trimmed}/v1/traces`;
}

/** Where spans go, and how, after the OTEL_* variables are applied as the OpenTelemetry SDKs apply them. */
export function exportPlan(
  tracing: TracingSettings['tracing'],
  env: NodeJS.ProcessEnv,
): { url: string | undefined; describe: string; protocol: Protocol; warning?: string } {
  const url = tracing.endpoint !== undefined ? tracesUrl(tracing.endpoint) : undefined;
  const fromEnv =
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || (env.OTEL_EXPORTER_OTLP_ENDPOINT ? tracesUrl(env.OTEL_EXPORTER_OTLP_ENDPOINT) : undefined);
  const wanted = tracing.protocol ?? (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf').trim();
  const known = (PROTOCOLS as readonly string[]).includes(wanted);
  return {
    // Undefined: the exporter reads the OTEL_* variables itself.
    url,
    describe: url ?? fromEnv ?? DEFAULT_ENDPOINT,
    protocol: known ? (wanted as Protocol) : 'http/protobuf',
    warning: known
      ? undefined
      : `OTLP protocol ${JSON.stringify(wanted)} is not supported (only http/protobuf and http/json); using http/protobuf`,
  };
}

let globalsInstalled = false;
const forwarding = new ForwardingTracerProvider();
let reportError: (error: unknown) => void = () => {};

/**
 * The process-wide parts, once: the AsyncLocalStorage context manager (a handler's instrumented calls
 * see the attempt's span as their parent), the W3C propagator, and a global tracer provider that
 * forwards to a running pipeline's (a module handler's `trace.getTracer()` exports through it). Each
 * is registered only when the application has not registered its own.
 */
function installGlobals(): void {
  if (globalsInstalled) return;
  globalsInstalled = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(forwarding);
  setGlobalErrorHandler((error) => reportError(error));
}

/** Export failures, logged at most once a minute (with how many were not logged). */
function rateLimitedWarning(logger: Logger): (error: unknown) => void {
  let last = 0;
  let skipped = 0;
  return (error) => {
    const now = Date.now();
    if (now - last < ERROR_LOG_INTERVAL_MS) {
      skipped++;
      return;
    }
    last = now;
    const text = scrubSecrets(error instanceof Error ? error.message : String(error));
    logger.warn(
      { err: text, failuresNotLogged: skipped },
      'tracing: exporting spans failed; spans are dropped while the collector is unreachable',
    );
    skipped = 0;
  };
}

async function createExporter(protocol: Protocol, url: string | undefined, headers: Record<string, string>): Promise<SpanExporter> {
  const options = { url, headers, timeoutMillis: EXPORT_TIMEOUT_MS };
  if (protocol === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter(options);
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter(options);
}

/** OTEL_EXPORTER_OTLP_HEADERS values are credentials too: `k=v,k2=v2`, values URL-encoded. */
function registerEnvHeaderSecrets(env: NodeJS.ProcessEnv): void {
  for (const name of ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS']) {
    for (const pair of (env[name] ?? '').split(',')) {
      const value = pair.slice(pair.indexOf('=') + 1).trim();
      if (pair.includes('=')) {
        registerSecret(value);
        try {
          registerSecret(decodeURIComponent(value));
        } catch {
          // not URL-encoded
        }
      }
    }
  }
}

class OtelPipelineTracer implements PipelineTracer {
  readonly enabled = true;
  private stopped: Promise<void> | undefined;
  constructor(
    private readonly provider: BasicTracerProvider,
    private readonly spans: AttemptSpanSettings,
  ) {}

  startAttempt(message: TracedMessage, previous?: AttemptTrace): AttemptTrace {
    return new OtelAttemptTrace(this.spans, message, previous);
  }

  startBatch(members: readonly TracedBatchMember[]): BatchTrace {
    return new OtelBatchTrace(this.spans, members);
  }

  shutdown(timeoutMs: number): Promise<void> {
    this.stopped ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      forwarding.remove(this.provider);
      await Promise.race([this.provider.shutdown().catch((error: unknown) => reportError(error)), expired]);
      clearTimeout(timer);
    })();
    return this.stopped;
  }
}

export async function createOtelTracer(settings: TracingSettings): Promise<PipelineTracer> {
  const { tracing, logger, pipeline } = settings;
  const env = settings.env ?? process.env;
  for (const value of Object.values(tracing.headers)) registerSecret(value);
  registerEnvHeaderSecrets(env);
  const plan = exportPlan(tracing, env);
  if (plan.warning) logger.warn(plan.warning);
  const headers = Object.fromEntries(Object.entries(tracing.headers).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const exporter = await createExporter(plan.protocol, plan.url, headers);
  const serviceName = tracing.service_name ?? env.OTEL_SERVICE_NAME ?? undefined;
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'pythia' }))
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(serviceName ? resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }) : emptyResource());
  const provider = new BasicTracerProvider({
    resource,
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(tracing.sample_ratio) }),
    // Queue size, batch size and delay: the SDK's defaults (2048, 512, 5 s) or the OTEL_BSP_* variables.
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  reportError = rateLimitedWarning(logger);
  installGlobals();
  forwarding.add(provider);
  logger.info(
    {
      endpoint: plan.describe,
      protocol: plan.protocol,
      serviceName: resource.attributes[ATTR_SERVICE_NAME],
      sampleRatio: tracing.sample_ratio,
    },
    'tracing enabled',
  );
  return new OtelPipelineTracer(provider, { tracer: provider.getTracer('pythia-worker'), pipeline, consumerGroup: settings.consumerGroup });
}
