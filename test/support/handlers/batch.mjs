// Test batch handler (handler.batch): records every call in `calls` (the test imports this module and
// reads it), and answers each message by its body: fail "once" → an Error element on attempt 1,
// fail "permanent" → a PermanentError element, throw_once → the whole call throws on attempt 1,
// anything else → {id, attempt, batch: the call's size}.
import { PermanentError } from '../../../src/index.ts';

export const calls = [];

export async function handleBatch(messages, context) {
  calls.push({ ids: messages.map((m) => m.body.id), attempts: messages.map((m) => m.attempt), pipeline: context.pipeline });
  if (messages.some((m) => m.body.throw_once && m.attempt === 1)) throw new Error('bulk write failed');
  return messages.map((m) => {
    if (m.body.fail === 'once' && m.attempt === 1) return new Error(`row ${m.body.id} rejected`);
    if (m.body.fail === 'permanent') return new PermanentError(`row ${m.body.id} can never be written`);
    return { id: m.body.id, attempt: m.attempt, batch: messages.length };
  });
}
