// Test command handler (per message or persistent): echoes the traceparent of its request and the
// TRACEPARENT variable it was started with.
import { createInterface } from 'node:readline';

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === '') continue;
  const request = JSON.parse(line);
  const reply = { id: request.body.id, traceparent: request.traceparent ?? null, env: process.env.TRACEPARENT ?? null };
  if (process.env.PYTHIA_HANDLER_MODE === 'persistent')
    process.stdout.write(JSON.stringify({ id: request.id, ok: true, result: reply }) + '\n');
  else process.stdout.write(JSON.stringify(reply) + '\n');
}
