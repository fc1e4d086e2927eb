import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPipelineFile, type LoadedPipeline } from '../../src/config/index.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SUPPORT = path.join(ROOT, 'test/support');

/** A temp dir for one test file's pipeline YAMLs; handler paths resolve from test/support. */
export class PipelineDir {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'pythia-pipelines-'));

  /** Writes YAML (with `{{support}}` replaced by the absolute test/support path) and returns the file path. */
  write(name: string, yaml: string): string {
    const file = path.join(this.dir, `${name}.yml`);
    writeFileSync(file, yaml.replaceAll('{{support}}', SUPPORT));
    return file;
  }

  async load(name: string, yaml: string): Promise<LoadedPipeline> {
    const file = this.write(name, yaml);
    const result = await loadPipelineFile(file);
    if (!result.ok) throw new Error(result.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n'));
    return result.pipeline;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `pythia run` as a real child process, from the TypeScript sources. */
export function spawnWorker(files: string[], env: Record<string, string> = {}, extraArgs: string[] = []): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/entry.ts'), 'run', ...files, ...extraArgs], {
    env: { ...process.env, PYTHIA_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return Object.assign(child, { output: () => output });
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}
