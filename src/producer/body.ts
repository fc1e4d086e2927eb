import type { PipelineConfig } from '../config/index.ts';
import { createDecoder } from '../runtime/decode.ts';

type MessageSection = Pick<PipelineConfig['message'], 'format' | 'max_bytes' | 'schema'>;

/** A body the producer refused to send: it would have gone straight to the dead letter. */
export class InvalidBodyError extends Error {
  override readonly name = 'InvalidBodyError';
}

/**
 * Bytes of a body, per message.format. A Buffer (or Uint8Array) is taken as already encoded, for every
 * format; otherwise json is JSON.stringify of the value (a string becomes a JSON string), text is the
 * string as UTF-8.
 */
export function encodeBody(body: unknown, format: MessageSection['format']): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (format === 'json') {
    const text = JSON.stringify(body) as string | undefined;
    if (text === undefined) throw new InvalidBodyError(`a ${typeof body} cannot be sent as JSON`);
    return Buffer.from(text);
  }
  if (typeof body === 'string') return Buffer.from(body);
  throw new InvalidBodyError(`message.format ${format} takes a string or a Buffer, got ${body === null ? 'null' : typeof body}`);
}

/**
 * Checks a body the way the worker will decode it (max_bytes, JSON, message.schema), with the worker's
 * own decoder, so the producer and the pipeline cannot disagree.
 */
export function bodyValidator(message: MessageSection, baseDir: string): (bytes: Buffer) => void {
  const decode = createDecoder({ ...message } as PipelineConfig['message'], baseDir);
  return (bytes) => {
    const decoded = decode(bytes);
    if (!decoded.ok)
      throw new InvalidBodyError(
        `${decoded.error} (it would be dead-lettered as ${decoded.reason}; pass validate: false to send it anyway)`,
      );
  };
}
