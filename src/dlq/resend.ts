import type { DeadLetterEntry } from '../outputs/dead-letter.ts';
import type { RedisClient } from '../redis/connection.ts';
import { streamEntryCommand, writeTo } from '../redis/write.ts';
import { nativeEnvelope } from '../redis/envelope.ts';
import type { ReplayTarget } from './location.ts';

/** An entry to send back: its decoded form and its original payload bytes. */
export interface Resendable {
  entry: DeadLetterEntry;
  payload: Buffer;
}

export type ResendResult = { ok: true } | { ok: false; error: string };

/**
 * Sends payloads back into the pipeline's source the way a producer would, in one pipelined round
 * trip: LPUSH for a list (RPUSH when the source pops from the left: either way the end taken last, so
 * it is processed like a new message), XADD for a stream (with the original entry's fields, `body`
 * being the payload bytes), PUBLISH for a channel (to the channel it came from).
 * The worker sees a new message: attempt 1, delivery count 1. A PUBLISH nobody received counts as a
 * failure, since Redis keeps nothing for absent subscribers.
 */
export async function resend(client: RedisClient, target: ReplayTarget, items: readonly Resendable[]): Promise<ResendResult[]> {
  if (items.length === 0) return [];
  const results: (ResendResult | undefined)[] = new Array(items.length);
  const pipe = client.pipeline();
  const sent: number[] = [];
  for (const [i, { entry, payload }] of items.entries()) {
    switch (target.kind) {
      case 'list':
        writeTo(pipe, target, wirePayload(entry, payload));
        break;
      case 'stream':
        // Untrimmed: a MAXLEN here would remove entries no worker has read; the worker trims safely.
        pipe.call(...streamEntryCommand({ ...target, maxLength: 0 }, streamFields(entry, payload)));
        break;
      case 'channel': {
        const channel = entry.source.kind === 'channel' && entry.source.channel ? entry.source.channel : target.channels[0];
        if (channel === undefined) {
          results[i] = {
            ok: false,
            error: 'the pipeline subscribes only to patterns and the entry names no channel: nowhere to publish it',
          };
          continue;
        }
        writeTo(pipe, { kind: 'channel', key: channel }, wirePayload(entry, payload));
        break;
      }
    }
    sent.push(i);
  }
  const replies = sent.length > 0 ? ((await pipe.exec()) ?? []) : [];
  for (const [n, i] of sent.entries()) {
    const [error, reply] = replies[n] ?? [new Error('no reply'), undefined];
    if (error) results[i] = { ok: false, error: error.message };
    else if (target.kind === 'channel' && reply === 0)
      results[i] = { ok: false, error: 'no subscriber received the PUBLISH (is the worker running?)' };
    else results[i] = { ok: true };
  }
  return results as ResendResult[];
}

/**
 * What a replay writes to a list or channel: a Python Pythia envelope as it was delivered (its headers
 * and message_id are inside it), anything else as the body in the native header envelope (a plain body
 * stays plain).
 */
export function wirePayload(entry: DeadLetterEntry, payload: Buffer): Buffer {
  return entry.envelope === 'pythia' ? payload : nativeEnvelope.wrap(payload, entry.headers ?? {});
}

/**
 * The fields of a replayed stream entry: the original fields in their order with `body` holding the
 * payload bytes (its h:<name> header fields among them); an entry without a `body` field (its payload
 * was the JSON of its fields) gets its fields back as they were; anything else (a list or channel
 * message) becomes `body`, with its headers as h:<name> fields.
 */
export function streamFields(entry: DeadLetterEntry, payload: Buffer): (string | Buffer)[] {
  // The exact original fields (duplicate names, bytes that are not UTF-8), when the entry kept them.
  if (entry.raw_fields && entry.source.kind === 'stream') return entry.raw_fields.map((b) => Buffer.from(b, 'base64'));
  const fields = entry.fields && entry.source.kind === 'stream' ? Object.entries(entry.fields) : [];
  if (fields.length === 0) return nativeEnvelope.toFields(payload, entry.headers ?? {});
  return fields.flatMap(([name, value]) => [name, name === 'body' ? payload : value]);
}
