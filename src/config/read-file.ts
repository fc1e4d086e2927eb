import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';

/**
 * Size caps for the files a pipeline names. A pipeline file is a few kilobytes and a message schema
 * rarely more than a few hundred; the caps stop a mistaken path (/dev/zero, a log file, a dump) from
 * exhausting memory. Both are overridable through the environment for the rare honest giant.
 */
export const FILE_LIMITS = {
  pipeline: { env: 'PYTHIA_MAX_PIPELINE_BYTES', defaultBytes: 1024 * 1024 },
  schema: { env: 'PYTHIA_MAX_SCHEMA_BYTES', defaultBytes: 4 * 1024 * 1024 },
} as const;

export type FileKind = keyof typeof FILE_LIMITS;

/** The cap for a kind of file: its environment variable when that is a positive whole number, else the default. */
export function maxBytesFor(kind: FileKind, env: NodeJS.ProcessEnv = process.env): number {
  const { env: name, defaultBytes } = FILE_LIMITS[kind];
  const raw = env[name]?.trim();
  if (raw !== undefined && /^\d+$/.test(raw) && Number(raw) > 0) return Number(raw);
  return defaultBytes;
}

export type ReadResult = { ok: true; text: string } | { ok: false; message: string; line: number; col: number };

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a regular file of at most `maxBytes` bytes as strict UTF-8. Anything else (a device such as
 * /dev/zero or /dev/stdin, a FIFO, a directory, a file past the cap, bytes that are not UTF-8) is a
 * reason with the line and column it applies to, found without reading more than the cap.
 */
export function readBoundedText(file: string, maxBytes: number, capName: string): ReadResult {
  let fd: number;
  try {
    // Checked before opening too: opening some special files (a socket as /dev/stdin) fails oddly or blocks.
    const stats = statSync(file);
    if (!stats.isFile()) return { ok: false, line: 1, col: 1, message: `not a regular file (${kindOf(stats)}): give the path of a file` };
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    return {
      ok: false,
      line: 1,
      col: 1,
      message: `cannot read the file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    };
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return { ok: false, line: 1, col: 1, message: `not a regular file (${kindOf(stats)}): give the path of a file` };
    if (stats.size > maxBytes)
      return {
        ok: false,
        line: 1,
        col: 1,
        message: `the file is ${stats.size} bytes, more than the limit of ${maxBytes} (set ${capName} to raise it)`,
      };
    // Read one byte past the cap: a file that grows while being read is caught too.
    const buffer = Buffer.alloc(Math.min(maxBytes + 1, stats.size + 1));
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    if (length > maxBytes)
      return { ok: false, line: 1, col: 1, message: `the file is more than the limit of ${maxBytes} bytes (set ${capName} to raise it)` };
    return decodeUtf8(buffer.subarray(0, length));
  } finally {
    closeSync(fd);
  }
}

/** Strict UTF-8; the first byte that is not UTF-8 is located (line and column of the text before it). */
export function decodeUtf8(bytes: Buffer): ReadResult {
  try {
    return { ok: true, text: UTF8.decode(bytes) };
  } catch {
    const offset = firstInvalidByte(bytes);
    const before = UTF8.decode(bytes.subarray(0, offset));
    const line = before.split('\n').length;
    const col = before.length - before.lastIndexOf('\n');
    const byte = (bytes[offset] ?? 0).toString(16).padStart(2, '0');
    return {
      ok: false,
      line,
      col,
      message: `byte 0x${byte} at offset ${offset} is not valid UTF-8: pipeline files and schemas must be UTF-8 text`,
    };
  }
}

/** Offset of the first byte that does not start or continue a well-formed UTF-8 sequence. */
export function firstInvalidByte(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    let need: number;
    let min = 0x80;
    let max = 0xbf;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) min = 0xa0;
      if (b === 0xed) max = 0x9f; // no UTF-16 surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) min = 0x90;
      if (b === 0xf4) max = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      const lo = k === 1 ? min : 0x80;
      const hi = k === 1 ? max : 0xbf;
      if (c === undefined || c < lo || c > hi) return i;
    }
    i += need + 1;
  }
  return bytes.length;
}

function kindOf(stats: {
  isDirectory(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
}): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  if (stats.isFIFO()) return 'a pipe';
  if (stats.isSocket()) return 'a socket';
  return 'not a file';
}
