// Log output as users of other tools expect it: --log-format json|pretty (over PYTHIA_LOG_FORMAT),
// NO_COLOR / FORCE_COLOR, colour only on a terminal, and start-up config errors as JSON records when
// the logs are JSON.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { colorEnabled, resolveLogFormat } from '../../src/runtime/logger.ts';
import { exited, ROOT } from '../helpers/pipelines.ts';
import { waitFor } from '../helpers/wait.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';

const run = promisify(execFile);
const bin = path.join(ROOT, 'bin/pythia.js');
// An SGR escape sequence (colour); built from a string because the lint forbids control characters in regex literals.
const ANSI = new RegExp(String.fromCharCode(27) + '\\[\\d+(;\\d+)*m');
const quietEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !['NO_COLOR', 'FORCE_COLOR', 'PYTHIA_LOG_FORMAT', 'PYTHIA_LOG_LEVEL'].includes(name)),
);
const INVALID = 'test/fixtures/invalid/port-out-of-range.yml';

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run(process.execPath, [bin, ...args], { cwd: ROOT, env: { ...quietEnv, ...env }, timeout: 60_000 });
    return { code: 0, stderr };
  } catch (error) {
    const e = error as { code?: number; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stderr: e.stderr ?? '' };
  }
}

describe('log format and colour', () => {
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

  it('start-up config errors are JSON records when the logs are JSON (flag, environment, or not a terminal)', async () => {
    const ways: [string[], NodeJS.ProcessEnv][] = [
      [['--log-format', 'json', 'run'], { PYTHIA_LOG_FORMAT: 'pretty' }],
      [['run'], { PYTHIA_LOG_FORMAT: 'json' }],
      [['run'], {}],
    ];
    const results = await Promise.all(ways.map(([args, env]) => cli([...args, INVALID], env)));
    for (const [i, { code, stderr }] of results.entries()) {
      const label = (ways[i]?.[0] ?? []).join(' ');
      assert.equal(code, 1, label);
      const records = stderr
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.deepEqual(
        records.map((r) => [r.level, r.file, r.line, r.col, r.pointer]),
        [['error', INVALID, 5, 9, '/redis/port']],
        label,
      );
      assert.match(String(records[0]?.msg), /redis\.port must be <= 65535/);
    }
    // --log-format pretty wins over PYTHIA_LOG_FORMAT=json: the same error as a plain line.
    const pretty = await cli(['--log-format', 'pretty', 'run', INVALID], { PYTHIA_LOG_FORMAT: 'json' });
    assert.equal(pretty.code, 1);
    assert.match(pretty.stderr, /^test\/fixtures\/invalid\/port-out-of-range\.yml:5:9: /m);
  });
});

describe('pretty logs of a running worker: colour on a terminal, NO_COLOR, FORCE_COLOR', () => {
  const redis = usePrivateRedis();

  /** Starts the worker, waits for its `worker running` line, then stops it (SIGTERM drains) and returns its log. */
  async function worker(env: NodeJS.ProcessEnv, terminal: boolean, args: string[] = []): Promise<string> {
    const file = redis.dir.write(
      'colour',
      `name: colour\nredis: {url: "${redis.server.url}"}\nsource: {list: {key: colour}}\nhandler: {module: "{{support}}/handlers/record.mjs"}\nmetrics: {enabled: false}\n`,
    );
    const command = [process.execPath, bin, ...args, 'run', file];
    // `script` gives the worker a real terminal (stdout and stderr both), as a person running it has.
    // Its own process group, so the signal reaches the worker behind `script` too.
    const [exe, argv] = terminal
      ? ['script', ['-qec', command.map((a) => `'${a}'`).join(' '), '/dev/null']]
      : [command[0] as string, command.slice(1)];
    const child = spawn(exe, argv, {
      env: { ...quietEnv, PYTHIA_LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    try {
      await waitFor(
        () => `the worker running:\n${output}`,
        () => output.includes('worker running'),
        { timeoutMs: 60_000 },
      );
    } finally {
      process.kill(-(child.pid as number), 'SIGTERM');
      await exited(child);
    }
    return output;
  }

  it('colours on a terminal, and not with NO_COLOR=1', async () => {
    const [plain, noColor] = await Promise.all([worker({}, true), worker({ NO_COLOR: '1' }, true)]);
    assert.match(plain, ANSI);
    assert.doesNotMatch(noColor, ANSI);
  });

  it('FORCE_COLOR colours pretty logs written to a pipe; --log-format json never colours', async () => {
    const [forced, off, json] = await Promise.all([
      worker({ FORCE_COLOR: '1' }, false, ['--log-format', 'pretty']),
      worker({ FORCE_COLOR: '0' }, false, ['--log-format', 'pretty']),
      worker({ FORCE_COLOR: '1' }, false, ['--log-format', 'json']),
    ]);
    assert.match(forced, ANSI);
    assert.doesNotMatch(off, ANSI);
    assert.doesNotMatch(json, ANSI);
    assert.ok(
      json
        .trim()
        .split('\n')
        .every((line) => JSON.parse(line) !== null),
    );
  });
});
