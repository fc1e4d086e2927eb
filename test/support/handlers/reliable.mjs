// Test handler for the reliability suite: returns {id} so the pipeline's output records what was processed.
// Body options: sleep (ms), fail: "always" (throws every attempt), hang: true (never settles and ignores
// context.signal, like a stuck handler). RELIABLE_IGNORE_SLEEP=1 skips sleeps (a fast drain worker).
// RELIABLE_STARTED_FILE=<path> appends one line per handler call as it starts, so a test can tell a message
// the handler is running from one only fetched (a stop in between hands a fetched message back, by design).
import { appendFileSync } from 'node:fs';

const ignoreSleep = process.env.RELIABLE_IGNORE_SLEEP === '1';
const startedFile = process.env.RELIABLE_STARTED_FILE;

export default async function reliable(message) {
  const body = message.body ?? {};
  if (startedFile) appendFileSync(startedFile, `${body.id}\n`);
  if (body.hang) return new Promise(() => {});
  if (body.sleep && !ignoreSleep) await new Promise((resolve) => setTimeout(resolve, body.sleep));
  if (body.fail === 'always') throw new Error(`failing ${body.id}`);
  return { id: body.id };
}
