// Test handler for byte-exactness: returns the payload bytes unchanged. While
// globalThis.__pythiaRejectBytes is true it throws a PermanentError instead (to fill the dead letter).
import { PermanentError } from '../../../src/index.ts';

export default async function bytes(message) {
  if (globalThis.__pythiaRejectBytes) throw new PermanentError('rejected while filling the dead letter');
  return message.raw;
}
