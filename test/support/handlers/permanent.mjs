// Test handler for permanent failures: body.permanent "class" throws the exported PermanentError,
// "flag" throws a plain Error with retryable: false; anything else succeeds with {id, attempt}.
import { PermanentError } from '../../../src/index.ts';

export default async function permanent(message) {
  const body = message.body ?? {};
  if (body.permanent === 'class') throw new PermanentError(`cannot process ${body.id}`);
  if (body.permanent === 'flag') throw Object.assign(new Error(`not retryable ${body.id}`), { retryable: false });
  return { id: body.id, attempt: message.attempt };
}
