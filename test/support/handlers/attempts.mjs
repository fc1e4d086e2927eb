// Test handler for retry timing: each call fails until message.attempt reaches body.succeed_on
// (never, when absent). The successful result lists every call's attempt number and epoch-ms time.
const calls = new Map();

export default async function attempts(message) {
  const body = message.body ?? {};
  const seen = calls.get(body.id) ?? [];
  seen.push({ attempt: message.attempt, at: Date.now() });
  calls.set(body.id, seen);
  if (body.succeed_on === undefined || message.attempt < body.succeed_on) throw new Error(`attempt ${message.attempt} of ${body.id} fails`);
  calls.delete(body.id);
  return { id: body.id, calls: seen };
}
