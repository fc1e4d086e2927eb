import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { loadPipelineFile, type LoadedPipeline, type LoadOptions } from '../../../src/config/index.ts';

export const SUPPORT = path.dirname(fileURLToPath(import.meta.url));

/** A temp dir of pipeline YAMLs; `{{support}}` in the text becomes this folder's absolute path. */
export class PipelineFiles {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'pythia-metrics-'));

  async load(name: string, yaml: string, options: LoadOptions = {}): Promise<LoadedPipeline> {
    const file = path.join(this.dir, `${name}.yml`);
    writeFileSync(file, yaml.replaceAll('{{support}}', SUPPORT));
    const result = await loadPipelineFile(file, options);
    if (!result.ok) throw new Error(result.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n'));
    return result.pipeline;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A pino destination that keeps every line written to it. */
export function captureLogs(): { stream: Writable; text: () => string; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const text = () => chunks.join('');
  return {
    stream,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

export async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

/**
 * The value of one sample in a text exposition: `name` plus exactly these labels (order-free).
 * undefined when no such series exists.
 */
export function sample(exposition: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of exposition.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      found[pair[1] as string] = pair[2] as string;
    const wanted = Object.entries(labels);
    if (wanted.length === Object.keys(found).length && wanted.every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}
