import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * The top-level sections of a test pipeline, each the YAML after its key: a flow value (`{list: "q:out"}`) on the
 * key's line, or indented lines (`  list: {key: q}`), which go under it.
 */
export interface PipelineSections {
  /** Default: the URL from `${REDIS_URL}`. false leaves the section out (the test hands Worker.start a URL). */
  redis?: string | false;
  source?: string;
  message?: string;
  handler?: string;
  concurrency?: number;
  resilience?: string;
  output?: string;
  /** Default: disabled. */
  metrics?: string;
  shutdown?: string;
}

/** Pipeline YAML for tests: `version`, `name`, the given sections, then `extra` (any further top-level lines). */
export function pipelineYaml(name: string, sections: PipelineSections, extra = ''): string {
  const { redis = '{url: "${REDIS_URL}"}', metrics = '{enabled: false}', ...rest } = sections;
  const ordered: [string, string | number | false | undefined][] = [
    ['redis', redis],
    ['source', rest.source],
    ['message', rest.message],
    ['handler', rest.handler],
    ['concurrency', rest.concurrency],
    ['resilience', rest.resilience],
    ['output', rest.output],
    ['metrics', metrics],
    ['shutdown', rest.shutdown],
  ];
  const lines = [`version: 1`, `name: ${name}`];
  for (const [key, value] of ordered) {
    if (value === undefined || value === false) continue;
    const text = String(value);
    lines.push(/^\s/.test(text) ? `${key}:\n${text}` : `${key}: ${text}`);
  }
  return `${lines.join('\n')}\n${extra}`;
}

/**
 * Handler calls started so far, from the file a test handler appends one line to per call as it starts
 * (RECORD_STARTED_FILE in record.mjs, RELIABLE_STARTED_FILE in reliable.mjs): a fetched message is not yet
 * a started one, and a stop in between hands it back.
 */
export function startedCalls(file: string): number {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').length - 1 : 0;
}

export const RECORD_HANDLER = '{module: "{{support}}/handlers/record.mjs"}';

/** A pipeline on test/support/handlers/record.mjs, which writes what it handled to `<name>:out`. */
export function recordPipeline(name: string, source: string, extra = ''): string {
  return pipelineYaml(name, { source, handler: RECORD_HANDLER, output: `{list: "${name}:out"}` }, extra);
}

/** `pythia run` as a real child process, from the TypeScript sources. */
export function spawnWorker(
  files: string[],
  env: Record<string, string> = {},
  extraArgs: string[] = [],
): ChildProcess & { output: () => string } {
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
