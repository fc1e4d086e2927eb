// The command line as users of other tools expect it: --version, and one exit-code table for every
// verb (0 ok, 1 invalid input or failure, 2 usage). Log output (format, colour): log-output.test.ts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/pipelines.ts';

const run = promisify(execFile);
const bin = path.join(ROOT, 'bin/pythia.js');
const STACK_LINE = /^\s+at .+[(:]/m;
const quietEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !['NO_COLOR', 'FORCE_COLOR', 'PYTHIA_LOG_FORMAT', 'PYTHIA_LOG_LEVEL'].includes(name)),
);

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd: ROOT, env: { ...quietEnv, ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Runs `work` over the items two at a time (the CLI starts a Node process per call). */
async function inBatches<T, R>(items: T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += 2) out.push(...(await Promise.all(items.slice(i, i + 2).map(work))));
  return out;
}

describe('pythia CLI conventions', () => {
  const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };

  it('--version and -V print the package version and exit 0', async () => {
    const flags = ['--version', '-V'];
    const results = await Promise.all(flags.map((flag) => cli([flag])));
    results.forEach(({ code, stdout }, i) => {
      assert.equal(code, 0, flags[i]);
      assert.equal(stdout.trim(), version, flags[i]);
    });
  });

  it('bare `pythia` is a usage error: help on stderr, exit 2; --help is help on stdout, exit 0', async () => {
    const [bare, help] = await Promise.all([cli([]), cli(['--help'])]);
    assert.equal(bare.code, 2);
    assert.equal(bare.stdout, '');
    assert.match(bare.stderr, /Usage: pythia/);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: pythia/);
    assert.match(help.stdout, /--log-format <format>/);
  });

  it('usage errors exit 2 for every kind: unknown verb, unknown option, bad choice, missing argument, bare dlq', async () => {
    const cases = [
      ['frobnicate'],
      ['validate', '--nope', 'pipelines/'],
      ['--log-format', 'xml', 'validate', 'pipelines/'],
      ['run'],
      ['dlq'],
      ['produce', 'pipelines/orders.yml'],
    ];
    const results = await inBatches(cases, (args) => cli(args));
    for (const [i, { code, stdout, stderr }] of results.entries()) {
      const args = cases[i] as string[];
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assert.doesNotMatch(stdout + stderr, STACK_LINE);
    }
  });

  it('a missing file is invalid input: exit 1 from every verb that reads one, never a stack trace', async () => {
    const missing = 'pipelines/no-such-file.yml';
    const cases = [
      ['validate', missing],
      ['run', missing],
      ['types', missing],
      ['produce', missing, '--count', '1'],
      ['dlq', 'list', missing],
      ['dlq', 'replay', missing, '--all'],
      ['dlq', 'purge', missing, '--yes'],
    ];
    const results = await inBatches(cases, (args) => cli(args, { PYTHIA_LOG_FORMAT: 'pretty' }));
    for (const [i, { code, stdout, stderr }] of results.entries()) {
      const args = cases[i] as string[];
      assert.equal(code, 1, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, /no-such-file\.yml/, args.join(' '));
      assert.match(stderr, /no such file|ENOENT/, args.join(' '));
      assert.doesNotMatch(stdout + stderr, STACK_LINE);
    }
  });

  it('an invalid pipeline exits 1 from validate and run', async () => {
    const verbs = ['validate', 'run'];
    const results = await Promise.all(
      verbs.map((verb) => cli([verb, 'test/fixtures/invalid/port-out-of-range.yml'], { PYTHIA_LOG_FORMAT: 'pretty' })),
    );
    for (const [i, { code, stdout, stderr }] of results.entries()) {
      assert.equal(code, 1, verbs[i]);
      assert.match(stdout + stderr, /port-out-of-range\.yml:5:9: redis\.port must be <= 65535/);
    }
  });
});
