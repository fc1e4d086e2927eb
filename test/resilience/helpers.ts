import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { DeadLetterEntry } from '../../src/outputs/dead-letter.ts';
import { ROOT } from '../helpers/pipelines.ts';

/** The entries of a list dead letter, oldest first (LPUSH puts the newest at index 0). */
export async function listDeadLetters(client: Redis, key: string): Promise<DeadLetterEntry[]> {
  return (await client.lrange(key, 0, -1)).reverse().map((r) => JSON.parse(r) as DeadLetterEntry);
}

/** The payload of an entry as bytes. */
export function payloadBytes(entry: DeadLetterEntry): Buffer {
  return Buffer.from(entry.payload, entry.payload_encoding === 'base64' ? 'base64' : 'utf8');
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `pythia ARGS...` from the TypeScript sources, as a user would. */
export function pythia(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/entry.ts'), ...args], {
    env: { ...process.env, PYTHIA_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** An output sink for `pythia dlq` command functions called in-process. */
export function captured(): { out: (text: string) => void; err: (text: string) => void; stdout: string; stderr: string } {
  const sink = {
    stdout: '',
    stderr: '',
    out: (text: string) => void (sink.stdout += text),
    err: (text: string) => void (sink.stderr += text),
  };
  return sink;
}
