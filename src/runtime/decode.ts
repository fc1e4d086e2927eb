import path from 'node:path';
import type { ValidateFunction } from 'ajv';
import { newAjv } from '../config/ajv.ts';
import type { PipelineConfig } from '../config/index.ts';
import { linearRegExp } from '../config/linear-regexp.ts';
import { FILE_LIMITS, maxBytesFor, readBoundedText } from '../config/read-file.ts';
import type { DeadLetterReason } from '../outputs/dead-letter.ts';
import type { Delivery } from '../sources/source.ts';
import { nativeEnvelope, type Envelope, type Headers } from '../redis/envelope.ts';

const UTF8 = new TextDecoder('utf-8', { fatal: true });

export type Decoded = { ok: true; body: unknown } | { ok: false; reason: DeadLetterReason; error: string };

/**
 * A delivery with its headers taken out: `raw` is the body's bytes (what message.raw holds, and a dead
 * letter unless `whole`); `id` the message id the envelope carried; `whole` says the dead letter keeps
 * the delivered payload itself (Python Pythia's envelope: its body and message_id come back on replay
 * exactly as they were sent).
 */
export type Opened =
  { ok: true; raw: Buffer; headers: Headers; id?: string; whole?: boolean } | { ok: false; reason: DeadLetterReason; error: string };

/**
 * The first decoding step: max_bytes on the payload as delivered, then the headers out of their envelope
 * (list, channel) or out of the entry's header fields (stream). See src/redis/envelope.ts and
 * src/redis/pythia-envelope.ts.
 */
export function createOpener(maxBytes: number, envelope: Envelope = nativeEnvelope): (delivery: Delivery) => Opened {
  const pythia = envelope.name === 'pythia';
  return (delivery) => {
    const raw = delivery.raw;
    if (raw.length > maxBytes)
      return { ok: false, reason: 'too_large', error: `payload of ${raw.length} bytes exceeds message.max_bytes ${maxBytes}` };
    if (delivery.origin.kind === 'stream') {
      // Python Pythia's stream producer always writes a body field; an entry without one is not its layout.
      if (pythia && !Object.hasOwn(delivery.fields, 'body'))
        return { ok: false, reason: 'invalid_envelope', error: 'not a Python Pythia stream entry: it has no "body" field' };
      return { ok: true, raw, headers: envelope.fromFields(delivery.fields) };
    }
    const opened = envelope.unwrap(raw);
    if (!opened.ok) return { ok: false, reason: pythia ? 'invalid_envelope' : 'invalid_headers', error: opened.error };
    if (!pythia) return { ok: true, raw: opened.body, headers: opened.headers };
    return { ok: true, raw: opened.body, headers: opened.headers, id: opened.id, whole: true };
  };
}

/** Turns a body's bytes into the handler's `message.body` per message.format, max_bytes and message.schema. */
export function createDecoder(
  message: Pick<PipelineConfig['message'], 'format' | 'max_bytes' | 'schema'>,
  baseDir: string,
): (raw: Buffer) => Decoded {
  const { format, max_bytes: maxBytes } = message;
  let validate: ValidateFunction | undefined;
  if (message.schema !== '') {
    // Bounded as validate reads it: the file may have changed since the pipeline was checked.
    const read = readBoundedText(path.resolve(baseDir, message.schema), maxBytesFor('schema'), FILE_LIMITS.schema.env);
    if (!read.ok) throw new Error(`message.schema ${message.schema}: ${read.message}`);
    const schema = JSON.parse(read.text) as object;
    validate = newAjv({ strict: false, allErrors: false, useDefaults: false, code: { regExp: linearRegExp } }).compile(schema);
  }
  return (raw) => {
    if (raw.length > maxBytes)
      return { ok: false, reason: 'too_large', error: `payload of ${raw.length} bytes exceeds message.max_bytes ${maxBytes}` };
    if (format === 'binary') return { ok: true, body: raw };
    if (format === 'text') return { ok: true, body: raw.toString('utf8') };
    let body: unknown;
    try {
      // fatal: bytes that are not UTF-8 make the payload invalid JSON, rather than U+FFFD in the body.
      body = JSON.parse(UTF8.decode(raw));
    } catch (error) {
      const reason = error instanceof TypeError ? 'the payload is not valid UTF-8' : (error as Error).message;
      return { ok: false, reason: 'invalid_json', error: `invalid JSON: ${reason}` };
    }
    if (validate && !validate(body)) {
      const first = validate.errors?.[0];
      return {
        ok: false,
        reason: 'schema_invalid',
        error: `body does not match message.schema: ${first?.instancePath || '/'} ${first?.message ?? 'is invalid'}`,
      };
    }
    return { ok: true, body };
  };
}
