import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { loadPipelineText, type LoadedPipeline } from '../../src/config/index.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import type { RedisServer } from '../../src/testing/redis-server.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const REFERENCE = path.join(ROOT, 'pipelines/handlers');
export const NODE = process.execPath;

export interface ListPipelineOptions {
  /** YAML lines of the handler block (without its indentation). */
  handler: string;
  concurrency?: number;
  timeoutMs?: number;
  maxRetries?: number;
  format?: 'json' | 'text' | 'binary';
}

/** Pipeline YAML: list source `key`, output list `<key>:out`, default dead letter `<key>:dead`, fast retries, no metrics. */
export function listPipeline(name: string, key: string, options: ListPipelineOptions): string {
  const handler = options.handler
    .trim()
    .split('\n')
    .map((l) => '  ' + l.trim())
    .join('\n');
  return `version: 1
name: ${name}
source:
  list: {key: "${key}", batch_size: 50, block_timeout_ms: 100}
message: {format: ${options.format ?? 'json'}}
handler:
${handler}
concurrency: ${options.concurrency ?? 8}
resilience:
  max_retries: ${options.maxRetries ?? 5}
  retry_delay_ms: 20
  retry_jitter: 0
  processing_timeout_ms: ${options.timeoutMs ?? 10000}
  circuit_breaker: {enabled: false}
output:
  list: "${key}:out"
metrics: {enabled: false}
`;
}

export class PipelineDir {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'pythia-cmd-'));

  async load(name: string, yaml: string): Promise<LoadedPipeline> {
    const file = path.join(this.dir, `${name}.yml`);
    writeFileSync(file, yaml);
    const result = await loadPipelineText(file, yaml);
    if (!result.ok) throw new Error(result.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n'));
    return result.pipeline;
  }

  file(name: string): string {
    return path.join(this.dir, name);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A pino logger whose JSON lines are kept for assertions (and not printed). */
export function captureLogger(level: 'info' | 'debug' | 'warn' = 'info'): { logger: Logger; records: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  let partial = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const text = partial + chunk.toString('utf8');
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
      callback();
    },
  });
  const logger = createLogger(level, stream);
  return { logger, records: () => lines.filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

export async function runWorker(server: RedisServer, loaded: LoadedPipeline, logger: Logger): Promise<Worker> {
  return Worker.start([loaded], { redisUrl: server.url, logger });
}

/** A process is alive unless it is gone or a zombie nobody has reaped yet (this container's init may not reap). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
