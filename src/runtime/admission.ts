import { errorText } from '../errors.ts';
import type { DeadLetterReason } from '../outputs/dead-letter.ts';
import type { Delivery } from '../sources/source.ts';
import type { Work } from './attempt.ts';
import type { Decoded, Opened } from './decode.ts';
import type { DispatcherOptions } from './dispatcher-options.ts';

/** Why a new delivery goes straight to the dead letter instead of the handler. */
export interface Rejection {
  reason: DeadLetterReason;
  error: string;
  attempts: number;
}

/**
 * Checks a new delivery (delivered too often, payload too large) and opens and decodes its payload
 * into `work`. Returns what must be dead-lettered instead, or undefined when `work` is ready for its
 * first attempt.
 */
export function admit(
  work: Work,
  options: DispatcherOptions,
  open: (delivery: Delivery) => Opened,
  decode: (raw: Buffer) => Decoded,
): Rejection | undefined {
  const delivery = work.delivery;
  const maxDeliveries = options.maxDeliveries;
  if (maxDeliveries !== undefined && delivery.deliveryCount > maxDeliveries.limit) {
    const error = `delivered ${delivery.deliveryCount} times, more than ${maxDeliveries.setting} (${maxDeliveries.limit})`;
    return { reason: 'max_deliveries', error, attempts: delivery.deliveryCount - 1 };
  }
  if (delivery.oversized) {
    return {
      reason: 'too_large',
      error: `payload of ${delivery.oversized.size} bytes exceeds message.max_bytes ${options.maxBytes}`,
      attempts: 0,
    };
  }
  let decoded: Decoded;
  try {
    const opened = open(delivery);
    if (opened.ok) {
      work.raw = opened.raw;
      work.headers = opened.headers;
      if (opened.id !== undefined) work.messageId = opened.id;
      if (opened.whole) work.keepWhole = true;
    }
    decoded = opened.ok ? decode(opened.raw) : opened;
  } catch (error) {
    // One hostile payload (a body nested deep enough to overflow the stack of a recursive schema,
    // say) must end as its own dead letter: thrown from here it would crash the worker, and a list
    // item would crash every worker that recovers it.
    decoded = { ok: false, reason: 'decode_error', error: `decoding failed: ${errorText(error)}` };
  }
  if (!decoded.ok) return { reason: decoded.reason, error: decoded.error, attempts: 0 };
  work.body = decoded.body;
  return undefined;
}
