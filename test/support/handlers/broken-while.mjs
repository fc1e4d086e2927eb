// Test handler for replays: fails (retryable) while a marker file exists, so a test can break the
// handler, let messages dead-letter, "fix" it, and replay them. The marker is body.broken_while for
// JSON bodies, else the file named by PYTHIA_TEST_BROKEN_WHILE. Returns {id, attempt, raw (base64)}.
import { existsSync } from 'node:fs';

export default async function brokenWhile(message) {
  const body = message.body;
  const json = body !== null && typeof body === 'object' && !Buffer.isBuffer(body);
  const marker = json && body.broken_while ? body.broken_while : process.env.PYTHIA_TEST_BROKEN_WHILE;
  if (marker && existsSync(marker)) throw new Error(`downstream unavailable for ${json ? body.id : message.id}`);
  return { id: json ? body.id : null, attempt: message.attempt, raw: message.raw.toString('base64'), fields: message.fields };
}
