// Test handler for latency: returns {id, latency} where latency = now − body.produced_at (ms).
// body.fail "always" throws on every attempt (a poison message).
export default async function latency(message) {
  const body = message.body ?? {};
  if (body.fail === 'always') throw new Error(`poison ${body.id}`);
  return { id: body.id, latency: Date.now() - body.produced_at, attempt: message.attempt };
}
