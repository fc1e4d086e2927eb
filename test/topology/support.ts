import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPipelineFile, type LoadedPipeline } from '../../src/config/index.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Absolute path of the topology tests' handler module. */
export const RECORD_HANDLER = path.join(ROOT, 'test/topology/handlers/record.ts');

/** A temp dir holding one test file's pipeline YAMLs. */
export class PipelineFiles {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'pythia-topology-'));

  write(name: string, yaml: string): string {
    const file = path.join(this.dir, `${name}.yml`);
    writeFileSync(file, yaml);
    return file;
  }

  async load(name: string, yaml: string, env?: NodeJS.ProcessEnv): Promise<LoadedPipeline> {
    const file = this.write(name, yaml);
    const result = await loadPipelineFile(file, { env: env ?? process.env });
    if (!result.ok) throw new Error(result.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n'));
    return result.pipeline;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export type WorkerProcess = ChildProcess & { output: () => string };

/** `node bin/pythia.js run FILE...` as a real child process; stdout and stderr are collected. */
export function spawnPythia(files: string[], env: NodeJS.ProcessEnv): WorkerProcess {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/pythia.js'), 'run', ...files], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: ROOT,
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return Object.assign(child, { output: () => output });
}

/** SIGTERM, then the exit code (SIGKILL and null after `timeoutMs`). */
export async function terminate(child: ChildProcess, timeoutMs = 15_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

/** Ids that appear more than once in a count map. */
export function duplicates(counts: Map<string, number>): string[] {
  return [...counts].filter(([, n]) => n > 1).map(([id]) => id);
}

export function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
}
