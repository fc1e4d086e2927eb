// Test handler for Python Pythia compatibility: returns what the handler sees of a message (its id,
// body and headers). A body {"fail": ...} fails permanently (straight to the dead letter).
export default async function pythonEcho(message) {
  const body = message.body;
  if (body !== null && typeof body === 'object' && body.fail)
    throw Object.assign(new Error(`told to fail: ${body.fail}`), { retryable: false });
  return { id: message.id, body, headers: message.headers };
}
