// The command line as users of other tools expect it: --version, one exit-code table for every verb
// (0 ok, 1 invalid input or failure, 2 usage), --log-format, NO_COLOR / FORCE_COLOR, and start-up
// config errors as JSON records when the logs are JSON.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { colorEnabled, resolveLogFormat } from '../../src/runtime/logger.ts';
import { ROOT } from '../helpers/pipelines.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';

const run = promisify(execFile);
const bin = path.join(ROOT, 'bin/pythia.js');
const STACK_LINE = /^\s+at .+[(:]/m;
// An SGR escape sequence (colour); built from a string because the lint forbids control characters in regex literals.
const ANSI = new RegExp(String.fromCharCode(27) + '\\[\\d+(;\\d+)*m');
const quietEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !['NO_COLOR', 'FORCE_COLOR', 'PYTHIA_LOG_FORMAT', 'PYTHIA_LOG_LEVEL'].includes(name)));

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd: ROOT, env: { ...quietEnv, ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('pythia CLI conventions', () => {
  const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };

  it('--version and -V print the package version and exit 0', async () => {
    for (const flag of ['--version', '-V']) {
      const { code, stdout } = await cli([flag]);
      assert.equal(code, 0, flag);
      assert.equal(stdout.trim(), version, flag);
    }
  });

  it('bare `pythia` is a usage error: help on stderr, exit 2; --help is help on stdout, exit 0', async () => {
    const bare = await cli([]);
    assert.equal(bare.code, 2);
    assert.equal(bare.stdout, '');
    assert.match(bare.stderr, /Usage: pythia/);
    const help = await cli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: pythia/);
    assert.match(help.stdout, /--log-format <format>/);
  });

  it('usage errors exit 2 for every kind: unknown verb, unknown option, bad choice, missing argument, bare dlq', async () => {
    const cases = [['frobnicate'], ['validate', '--nope', 'pipelines/'], ['--log-format', 'xml', 'validate', 'pipelines/'], ['run'], ['dlq'], ['produce', 'pipelines/orders.yml']];
    for (const args of cases) {
      const { code, stdout, stderr } = await cli(args);
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
    for (const args of cases) {
      const { code, stdout, stderr } = await cli(args, { PYTHIA_LOG_FORMAT: 'pretty' });
      assert.equal(code, 1, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, /no-such-file\.yml/, args.join(' '));
      assert.match(stderr, /no such file|ENOENT/, args.join(' '));
      assert.doesNotMatch(stdout + stderr, STACK_LINE);
    }
  });

  it('an invalid pipeline exits 1 from validate and run', async () => {
    for (const verb of ['validate', 'run']) {
      const { code, stdout, stderr } = await cli([verb, 'test/fixtures/invalid/port-out-of-range.yml'], { PYTHIA_LOG_FORMAT: 'pretty' });
      assert.equal(code, 1, verb);
      assert.match(stdout + stderr, /port-out-of-range\.yml:5:9: redis\.port must be <= 65535/);
    }
  });

  it('start-up config errors are JSON records when the logs are JSON (flag, environment, or not a terminal)', async () => {
    const ways: [string[], NodeJS.ProcessEnv][] = [
      [['--log-format', 'json', 'run'], { PYTHIA_LOG_FORMAT: 'pretty' }],
      [['run'], { PYTHIA_LOG_FORMAT: 'json' }],
      [['run'], {}],
    ];
    for (const [args, env] of ways) {
      const { code, stderr } = await cli([...args, 'test/fixtures/invalid/port-out-of-range.yml'], env);
      assert.equal(code, 1);
      const records = stderr.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.deepEqual(records.map((r) => [r.level, r.file, r.line, r.col, r.pointer]), [['error', 'test/fixtures/invalid/port-out-of-range.yml', 5, 9, '/redis/port']], args.join(' '));
      assert.match(String(records[0]?.msg), /redis\.port must be <= 65535/);
    }
    // --log-format pretty wins over PYTHIA_LOG_FORMAT=json: the same error as a plain line.
    const pretty = await cli(['--log-format', 'pretty', 'run', 'test/fixtures/invalid/port-out-of-range.yml'], { PYTHIA_LOG_FORMAT: 'json' });
    assert.match(pretty.stderr, /^test\/fixtures\/invalid\/port-out-of-range\.yml:5:9: /m);
  });

  it('decides the log format and colour as documented', () => {
    assert.equal(resolveLogFormat({}, true), 'pretty');
    assert.equal(resolveLogFormat({}, false), 'json');
    assert.equal(resolveLogFormat({ PYTHIA_LOG_FORMAT: 'json' }, true), 'json');
    assert.equal(resolveLogFormat({ PYTHIA_LOG_FORMAT: 'PRETTY' }, false), 'pretty');
    assert.equal(colorEnabled({}, true), true);
    assert.equal(colorEnabled({}, false), false);
    assert.equal(colorEnabled({ NO_COLOR: '1' }, true), false);
    assert.equal(colorEnabled({ NO_COLOR: '' }, true), true, 'an empty NO_COLOR is unset (no-color.org)');
    assert.equal(colorEnabled({ FORCE_COLOR: '1' }, false), true);
    assert.equal(colorEnabled({ FORCE_COLOR: '' }, false), true);
    assert.equal(colorEnabled({ FORCE_COLOR: '0' }, true), false);
    assert.equal(colorEnabled({ FORCE_COLOR: 'false', NO_COLOR: '' }, true), false);
    assert.equal(colorEnabled({ FORCE_COLOR: '1', NO_COLOR: '1' }, false), true, 'FORCE_COLOR wins, as it does for Node');
  });
});

describe('pretty logs of a running worker: colour on a terminal, NO_COLOR, FORCE_COLOR', () => {
  const redis = usePrivateRedis();

  /** Runs the worker for a few seconds (timeout sends SIGTERM; it drains and exits) and returns its log. */
  async function worker(env: NodeJS.ProcessEnv, terminal: boolean, args: string[] = []): Promise<string> {
    const file = redis.dir.write('colour', `name: colour\nredis: {url: "${redis.server.url}"}\nsource: {list: {key: colour}}\nhandler: {module: "{{support}}/handlers/record.mjs"}\nmetrics: {enabled: false}\n`);
    const command = ['timeout', '--foreground', '-s', 'TERM', '6', process.execPath, bin, ...args, 'run', file];
    const full = { ...quietEnv, PYTHIA_LOG_LEVEL: 'info', ...env };
    // `script` gives the worker a real terminal (stdout and stderr both), as a person running it has.
    // timeout exits 124 after its SIGTERM (the worker drains and exits 0): the log is what counts.
    const [file0, args0] = terminal ? ['script', ['-qec', command.map((a) => `'${a}'`).join(' '), '/dev/null']] : [command[0] as string, command.slice(1)];
    const stdout = await run(file0, args0, { env: full, timeout: 60_000 }).then(
      (r) => r.stdout + r.stderr,
      (error: { stdout?: string; stderr?: string }) => (error.stdout ?? '') + (error.stderr ?? ''),
    );
    assert.match(stdout, /worker running/, stdout);
    return stdout;
  }

  it('colours on a terminal, and not with NO_COLOR=1', async () => {
    assert.match(await worker({}, true), ANSI);
    assert.doesNotMatch(await worker({ NO_COLOR: '1' }, true), ANSI);
  });

  it('FORCE_COLOR colours pretty logs written to a pipe; --log-format json never colours', async () => {
    assert.match(await worker({ FORCE_COLOR: '1' }, false, ['--log-format', 'pretty']), ANSI);
    assert.doesNotMatch(await worker({ FORCE_COLOR: '0' }, false, ['--log-format', 'pretty']), ANSI);
    const json = await worker({ FORCE_COLOR: '1' }, false, ['--log-format', 'json']);
    assert.doesNotMatch(json, ANSI);
    assert.ok(json.trim().split('\n').every((line) => JSON.parse(line) !== null));
  });
});
