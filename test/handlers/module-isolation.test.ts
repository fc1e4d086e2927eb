// validate imports handler modules in a child process with a time limit: a module that exits, hangs
// or crashes at import is that file's error, and the other files are still checked. run gives up on
// a module that does not load in time. A .ts syntax error names the handler file's line and column.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT } from '../helpers/pipelines.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'pythia-isolation-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

const pipeline = (name: string, module: string, extra = '') =>
  `version: 1\nname: ${name}\nsource: {list: {key: "q:${name}"}}\nhandler: {module: ./${module}}\n${extra}`;

function pythia(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/pythia.js'), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('handler modules cannot end, hang or confuse validate', () => {
  write('exits.mjs', 'process.exit(0);\nexport default async () => 1;\n');
  write('hangs.mjs', 'setInterval(() => {}, 1000);\nawait new Promise(() => {});\nexport default async () => 1;\n');
  write('crashes.mjs', 'process.kill(process.pid, "SIGKILL");\nexport default async () => 1;\n');
  write('broken.ts', 'export async function handle(message: unknown) {\n  const x = ;\n  return message;\n}\n');
  write('fine.mjs', 'export default async (message) => message.body;\n');
  const files = {
    exits: write('a-exits.yml', pipeline('exits', 'exits.mjs')),
    hangs: write('b-hangs.yml', pipeline('hangs', 'hangs.mjs')),
    crashes: write('c-crashes.yml', pipeline('crashes', 'crashes.mjs')),
    broken: write(
      'd-broken.yml',
      pipeline('broken', 'broken.ts', 'concurrency: 2\n').replace('./broken.ts}', './broken.ts, export: handle}'),
    ),
    sibling: write('e-sibling.yml', pipeline('sibling', 'fine.mjs', 'concurency: 3\n')),
  };

  it('validate DIR reports each bad module as its file error, and the invalid sibling too', { timeout: 120_000 }, async () => {
    const { code, stdout } = await pythia(['validate', dir], { PYTHIA_HANDLER_LOAD_TIMEOUT_MS: '6000' });
    assert.equal(code, 1, stdout);
    const line = (file: string) => stdout.split('\n').find((l) => l.startsWith(`${file}:`)) ?? `(no line for ${file})`;
    assert.equal(
      line(files.exits),
      `${files.exits}:4:19: handler module ./exits.mjs ended the process while being imported: it exited with code 0 (at /handler/module)`,
    );
    assert.equal(
      line(files.hangs),
      `${files.hangs}:4:19: handler module ./hangs.mjs did not finish loading within 6000 ms (its top level never settles?); PYTHIA_HANDLER_LOAD_TIMEOUT_MS sets the limit (at /handler/module)`,
    );
    assert.equal(
      line(files.crashes),
      `${files.crashes}:4:19: handler module ./crashes.mjs ended the process while being imported: it was killed by SIGKILL (at /handler/module)`,
    );
    assert.equal(
      line(files.broken),
      `${files.broken}:4:19: handler module ./broken.ts could not be loaded: syntax error at ${path.join(dir, 'broken.ts')}:2:12: Unexpected ";" (at /handler/module)`,
    );
    assert.match(line(files.sibling), /e-sibling\.yml:5:1: unknown key "concurency" in the top level; did you mean "concurrency"\?/);
    assert.match(stdout, /5 of 5 pipeline files invalid\n$/);
  });

  it('run fails a pipeline whose handler module does not load within the limit', { timeout: 120_000 }, async () => {
    const file = write(
      'run-hangs.yml',
      pipeline('run-hangs', 'hangs.mjs', 'redis: {url: "redis://127.0.0.1:1"}\nmetrics: {enabled: false}\n'),
    );
    const { code, stderr } = await pythia(['run', file], { PYTHIA_HANDLER_LOAD_TIMEOUT_MS: '2000' });
    assert.equal(code, 1, stderr);
    assert.match(stderr, /run-hangs\.yml:4:19: handler module \.\/hangs\.mjs did not finish loading within 2000 ms/);
  });
});
