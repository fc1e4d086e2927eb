// Test handler: returns what a handler sees of a message's headers and body. A body with
// fail: "once" fails on its first sight in this process (with max_retries 0: dead-lettered).
const failed = new Set();

export default async function headers(message) {
  const body = message.body ?? {};
  if (body.fail === 'once' && !failed.has(body.id)) {
    failed.add(body.id);
    throw new Error(`failing once ${body.id}`);
  }
  return { id: body.id, headers: message.headers, raw: message.raw.toString('utf8') };
}
