import type { Tracer, TracerProvider } from '@opentelemetry/api';

/**
 * The tracer provider the worker registers globally (when the application registered none): it forwards
 * to the provider of a running pipeline that has tracing on, the oldest first. Pipelines come and go
 * (hot reload, several workers in one process); a tracer a handler module got once at import keeps
 * exporting through whichever pipeline is running, instead of a provider that was shut down.
 */
export class ForwardingTracerProvider implements TracerProvider {
  private readonly live: TracerProvider[] = [];
  /** Used when no pipeline is running: the last one that stopped (shut down, so it records nothing). */
  private fallback: TracerProvider | undefined;

  add(provider: TracerProvider): void {
    this.live.push(provider);
  }

  remove(provider: TracerProvider): void {
    const index = this.live.indexOf(provider);
    if (index >= 0) this.live.splice(index, 1);
    this.fallback = provider;
  }

  getTracer(name: string, version?: string, options?: { schemaUrl?: string }): Tracer {
    const current = (): Tracer | undefined => (this.live[0] ?? this.fallback)?.getTracer(name, version, options);
    return {
      startSpan: (spanName, spanOptions, context) => (current() as Tracer).startSpan(spanName, spanOptions, context),
      startActiveSpan: ((...args: Parameters<Tracer['startActiveSpan']>) =>
        ((current() as Tracer).startActiveSpan as (...a: unknown[]) => unknown)(...args)) as Tracer['startActiveSpan'],
    };
  }
}
