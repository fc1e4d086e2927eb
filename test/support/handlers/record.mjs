// Test handler: returns {id} so the pipeline's output records what was processed.
// Body options: sleep (ms), fail ("always" | "once"), hang (ignore the signal).
// RECORD_STARTED_FILE=<path> appends one line per call as it starts (see reliable.mjs: a fetched message is
// not yet a started one, and a stop in between hands it back).
import { appendFileSync } from 'node:fs';

const startedFile = process.env.RECORD_STARTED_FILE;
let concurrent = 0;
let maxConcurrent = 0;
const failedOnce = new Set();

export default async function record(message, context) {
  const body = message.body ?? {};
  if (startedFile) appendFileSync(startedFile, `${body.id}\n`);
  concurrent++;
  maxConcurrent = Math.max(maxConcurrent, concurrent);
  try {
    if (body.sleep) await new Promise((resolve) => setTimeout(resolve, body.sleep));
    if (body.fail === 'always') throw new Error(`failing ${body.id}`);
    if (body.fail === 'once' && !failedOnce.has(body.id)) {
      failedOnce.add(body.id);
      throw new Error(`failing once ${body.id}`);
    }
    return { id: body.id, max: maxConcurrent, attempt: message.attempt, pipeline: context.pipeline };
  } finally {
    concurrent--;
  }
}
