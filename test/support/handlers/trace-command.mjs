// Test command handler (per message or persistent): echoes the traceparent of its request and the
// TRACEPARENT variable it was started with. A persistent batch request ({"id", "batch": [...]}) is
// answered per element: the element's own traceparent, and the batch line's as batchTraceparent.
import { createInterface } from 'node:readline';

const echo = (request) => ({ id: request.body.id, traceparent: request.traceparent ?? null, env: process.env.TRACEPARENT ?? null });

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === '') continue;
  const request = JSON.parse(line);
  if (Array.isArray(request.batch)) {
    const batchTraceparent = request.traceparent ?? null;
    const results = request.batch.map((element) => ({ ok: true, result: { ...echo(element), batchTraceparent } }));
    process.stdout.write(JSON.stringify({ id: request.id, results }) + '\n');
  } else if (process.env.PYTHIA_HANDLER_MODE === 'persistent')
    process.stdout.write(JSON.stringify({ id: request.id, ok: true, result: echo(request) }) + '\n');
  else process.stdout.write(JSON.stringify(echo(request)) + '\n');
}
