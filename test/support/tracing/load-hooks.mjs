// Module hooks for the tracing test: every specifier naming OpenTelemetry (or the file that loads it)
// that an import resolves is appended to $PROBE_OUT.
import { appendFileSync } from 'node:fs';

export async function resolve(specifier, context, next) {
  if (specifier.includes('@opentelemetry') || specifier.includes('otel-tracer')) appendFileSync(process.env.PROBE_OUT, `${specifier}\n`);
  return next(specifier, context);
}
