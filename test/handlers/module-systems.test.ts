// Module handlers in both module systems: a project with "type": "module" and one without (npm's default).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadHandlerFunction } from '../../src/config/handler-module.ts';

const root = mkdtempSync(path.join(tmpdir(), 'pythia-modules-'));

/** Writes a project: package.json with the given type, and handler files by name. */
function project(type: 'module' | 'commonjs', files: Record<string, string>): string {
  const dir = path.join(root, type);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `p-${type}`, type }));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

const esmTs =
  "import { helper } from './helper.ts';\nexport async function handle(message: { body: number }): Promise<number> { return helper(message.body); }\n";
const helperTs = 'export const helper = (n: number): number => n * 2;\n';
const cjsTs =
  'const double = (n: number): number => n * 2;\nmodule.exports = { handle: async (message: { body: number }) => double(message.body) };\n';
const cts = 'export async function handle(message: { body: number }): Promise<number> { return message.body * 2; }\n';
const mts = 'export async function handle(message: { body: number }): Promise<number> { return message.body * 2; }\n';
const cjs = 'exports.handle = async (message) => message.body * 2;\n';
const mjs = 'export async function handle(message) { return message.body * 2; }\n';

describe('handler modules in CommonJS and ESM projects', () => {
  after(() => rmSync(root, { recursive: true, force: true }));

  const cases: [string, 'module' | 'commonjs', Record<string, string>][] = [
    [
      'ESM project',
      'module',
      { 'h.ts': esmTs, 'helper.ts': helperTs, 'h.mts': mts, 'h.cts': cts, 'h.js': mjs, 'h.mjs': mjs, 'h.cjs': cjs },
    ],
    // The default project: a .ts file is CommonJS here, whether it is written with import/export or module.exports.
    [
      'CommonJS project',
      'commonjs',
      { 'h.ts': esmTs, 'helper.ts': helperTs, 'plain.ts': cjsTs, 'h.mts': mts, 'h.cts': cts, 'h.js': cjs, 'h.mjs': mjs, 'h.cjs': cjs },
    ],
  ];
  for (const [title, type, files] of cases) {
    it(`${title}: every handler extension loads, twice (validation, then the runner), and runs`, async () => {
      const dir = project(type, files);
      for (const name of Object.keys(files).filter((f) => f !== 'helper.ts')) {
        for (let load = 0; load < 2; load++) {
          const handle = (await loadHandlerFunction(path.join(dir, name), 'handle')) as unknown as (m: { body: number }) => Promise<number>;
          assert.equal(await handle({ body: 21 }), 42, `${type} ${name}`);
        }
      }
    });
  }
});
