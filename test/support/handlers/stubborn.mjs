// Test handler that ignores context.signal while it works: for attempts up to body.hang_attempts
// (default: every attempt) it sleeps body.hang ms, then returns {id, attempt, late: true}; later
// attempts return at once. When it wakes it looks at the signal (only then, as a handler checking
// between steps would) and, with body.report_to, appends {id, attempt, aborted, reason} to that file.
import { appendFileSync } from 'node:fs';

export default async function stubborn(message, context) {
  const body = message.body ?? {};
  const hangs = body.hang_attempts === undefined || message.attempt <= body.hang_attempts;
  if (!hangs) return { id: body.id, attempt: message.attempt, late: false };
  await new Promise((resolve) => setTimeout(resolve, body.hang ?? 1000));
  if (body.report_to) {
    const { signal } = context;
    const report = { id: body.id, attempt: message.attempt, aborted: signal.aborted, reason: signal.reason?.name ?? null };
    appendFileSync(body.report_to, JSON.stringify(report) + '\n');
  }
  return { id: body.id, attempt: message.attempt, late: true };
}
