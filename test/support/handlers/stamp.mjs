// Test handler for flow control: returns {id, key, seq, at, pid} so the output list records what was
// processed, by which process, when, and in which order (outputs are written before the ack).
// Body options: sleep (ms), jitter (up to this many ms more, at random), fail_until (fail attempts before it),
// sleep_on: {consumer, ms} (sleeps only in the worker whose CONSUMER environment variable is that: a worker
// killed meanwhile leaves the message to another, which does not sleep).
export default async function stamp(message) {
  const body = message.body ?? {};
  const first = body.sleep_on && body.sleep_on.consumer === process.env.CONSUMER ? body.sleep_on.ms : 0;
  const pause = first + (body.sleep ?? 0) + Math.random() * (body.jitter ?? 0);
  if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
  if (body.fail_until && message.attempt < body.fail_until) throw new Error(`failing ${body.id} attempt ${message.attempt}`);
  return { id: body.id, key: body.key, seq: body.seq, at: Date.now(), pid: process.pid, attempt: message.attempt };
}
