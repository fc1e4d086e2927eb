// Units: seconds written where milliseconds are meant are warnings with the likely value (errors under
// --strict, or when the schema rejects the value anyway); Python names say how the unit converts; a key
// of another source kind says why it does not apply, instead of pointing to the wrong fix.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { formatIssue, loadPipelines, loadPipelineText, type ConfigIssue } from '../../src/config/index.ts';
import { ROOT } from '../helpers/pipelines.ts';

const run = promisify(execFile);
const file = path.join(ROOT, 'test/fixtures/support/inline.yml');
const BASE = 'name: units\nsource: {list: {key: jobs}}\nhandler: {module: ./handler.mjs}\n';

async function load(extra: string, strict = false): Promise<{ ok: boolean; lines: string[]; warnings: ConfigIssue[] }> {
  const result = await loadPipelineText(file, BASE + extra, { env: { PATH: process.env.PATH }, strict });
  const issues = result.ok ? result.pipeline.warnings : result.issues;
  return {
    ok: result.ok,
    lines: issues.map((i) => formatIssue(i).replace(`${file}:`, '')),
    warnings: result.ok ? result.pipeline.warnings : [],
  };
}

describe('seconds in *_ms keys', () => {
  it('warns with the likely value, at the value, as written', async () => {
    const { ok, lines } = await load('resilience: {retry_delay_ms: 1.0, processing_timeout_ms: 30}\nredis:\n  socket_timeout_ms: 10\n');
    assert.equal(ok, true);
    assert.deepEqual(lines, [
      '4:30: warning: resilience.retry_delay_ms: 1.0 — milliseconds; did you mean 1000? (a value below 10 looks like seconds) (at /resilience/retry_delay_ms)',
      '4:58: warning: resilience.processing_timeout_ms: 30 — milliseconds; did you mean 30000? (a value below 100 looks like seconds) (at /resilience/processing_timeout_ms)',
      '6:22: warning: redis.socket_timeout_ms: 10 — milliseconds; did you mean 10000? (a value below 100 looks like seconds) (at /redis/socket_timeout_ms)',
    ]);
  });

  it('uses a threshold per key: plausible millisecond values, zero and defaults stay quiet', async () => {
    const quiet = await load(
      'resilience: {retry_delay_ms: 50, processing_timeout_ms: 500, retry_max_delay_ms: 1000}\nredis: {socket_timeout_ms: 0, connection_timeout_ms: 2000}\nshutdown: {grace_period_ms: 0}\n',
    );
    assert.deepEqual(quiet.lines, []);
    const atMinimum = await load('metrics: {redis: {interval_ms: 100}}\n');
    assert.deepEqual(atMinimum.lines, []);
    const grace = await load('shutdown: {grace_period_ms: 25}\n');
    assert.match(grace.lines[0] ?? '', /shutdown\.grace_period_ms: 25 — milliseconds; did you mean 25000\?/);
  });

  it('warns for a value that came from the environment too', async () => {
    const result = await loadPipelineText(file, BASE + 'resilience: {processing_timeout_ms: "${TIMEOUT}"}\n', {
      env: { PATH: process.env.PATH, TIMEOUT: '30' },
    });
    assert.equal(result.ok, true);
    assert.match(
      result.ok ? formatIssue(result.pipeline.warnings[0] as ConfigIssue) : '',
      /processing_timeout_ms: 30 — milliseconds; did you mean 30000\?/,
    );
  });

  it('puts the same hint in the error when the schema rejects the value anyway (a fraction, below the minimum)', async () => {
    const { ok, lines } = await load('resilience: {retry_max_delay_ms: 2.5}\nmetrics: {redis: {interval_ms: 5}}\n');
    assert.equal(ok, false);
    assert.deepEqual(lines, [
      '4:34: resilience.retry_max_delay_ms must be an integer, got number 2.5 — milliseconds; did you mean 2500? (at /resilience/retry_max_delay_ms)',
      '5:32: metrics.redis.interval_ms must be >= 100, got 5 — milliseconds; did you mean 5000? (at /metrics/redis/interval_ms)',
    ]);
  });

  it('--strict (the strict load option) makes warnings fail the file', async () => {
    const { ok, lines } = await load('resilience: {processing_timeout_ms: 30}\n', true);
    assert.equal(ok, false);
    assert.equal(lines.length, 1);
    assert.match(lines[0] as string, /warning: resilience\.processing_timeout_ms: 30/);
  });

  it('loadPipelines hands warnings to onWarning, and none to the shipped pipelines', async () => {
    const seen: ConfigIssue[] = [];
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REDIS_') && !k.startsWith('PYTHIA_')));
    const pipelines = await loadPipelines([path.join(ROOT, 'pipelines')], { env, onWarning: (w) => seen.push(w) });
    assert.ok(pipelines.length >= 6);
    assert.deepEqual(seen, []);
  });
});

describe('validate and run --strict', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pythia-units-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const warned = path.join(dir, 'warned.yml');
  writeFileSync(path.join(dir, 'handler.mjs'), 'export default async () => {};\n');
  writeFileSync(warned, 'name: warned\nsource: {list: {key: jobs}}\nhandler: {module: ./handler.mjs}\nresilience: {retry_delay_ms: 1.0}\n');

  async function cli(args: string[]): Promise<{ code: number; out: string }> {
    try {
      const { stdout, stderr } = await run(process.execPath, [path.join(ROOT, 'bin/pythia.js'), ...args], {
        cwd: ROOT,
        env: { ...process.env, PYTHIA_LOG_FORMAT: 'pretty' },
      });
      return { code: 0, out: stdout + stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, out: e.stdout + e.stderr };
    }
  }

  it('validate prints the warning and exits 0; with --strict it exits 1', async () => {
    const plain = await cli(['validate', warned]);
    assert.equal(plain.code, 0, plain.out);
    assert.match(plain.out, /warned\.yml:4:30: warning: resilience\.retry_delay_ms: 1\.0 — milliseconds; did you mean 1000\?/);
    assert.match(plain.out, /warned\.yml: valid/);
    const strict = await cli(['validate', '--strict', warned]);
    assert.equal(strict.code, 1);
    assert.match(strict.out, /warning: resilience\.retry_delay_ms/);
    assert.match(strict.out, /1 of 1 pipeline files invalid/);
  });

  it('run --strict does not start (exit 1, before any connection)', async () => {
    const strict = await cli(['run', '--strict', warned]);
    assert.equal(strict.code, 1);
    assert.match(strict.out, /warned\.yml:4:30: warning: resilience\.retry_delay_ms/);
  });
});

describe('hints for Python names and for keys of another source kind', () => {
  it('a Python seconds setting says how to convert, with the value written', async () => {
    const { lines } = await load(
      'resilience: {retry_delay: 1.5, processing_timeout: 30}\nredis: {socket_timeout: 5, health_check_interval: 30}\n',
    );
    assert.deepEqual(lines, [
      '4:14: unknown key "retry_delay" in resilience; Pythia\'s Python setting "retry_delay" is resilience.retry_delay_ms here, in milliseconds where Python counted seconds: ×1000, so retry_delay: 1.5 becomes retry_delay_ms: 1500 (at /resilience/retry_delay)',
      '4:32: unknown key "processing_timeout" in resilience; Pythia\'s Python setting "processing_timeout" is resilience.processing_timeout_ms here, in milliseconds where Python counted seconds: ×1000, so processing_timeout: 30 becomes processing_timeout_ms: 30000 (at /resilience/processing_timeout)',
      '5:9: unknown key "socket_timeout" in redis; Pythia\'s Python setting "socket_timeout" is redis.socket_timeout_ms here, in milliseconds where Python counted seconds: ×1000, so socket_timeout: 5 becomes socket_timeout_ms: 5000 (at /redis/socket_timeout)',
      '5:28: unknown key "health_check_interval" in redis; Pythia\'s Python setting "health_check_interval" is redis.health_check_interval_s (seconds, as in Python) here (at /redis/health_check_interval)',
    ]);
  });

  it('batch_size under a channel source says channels have no batches, not "check its indentation"', async () => {
    const result = await loadPipelineText(
      file,
      'name: units\nsource:\n  channel:\n    channels: [a]\n    batch_size: 10\nhandler: {module: ./handler.mjs}\n',
      { env: {} },
    );
    const message = result.ok ? '' : (result.issues[0]?.message ?? '');
    assert.match(
      message,
      /^unknown key "batch_size" in source\.channel; "batch_size" is a setting of list and stream sources, not of channel sources: pub\/sub pushes each message/,
    );
    assert.doesNotMatch(message, /belongs at|indentation/);
  });

  it("a misplaced key points only to the place of the pipeline's own source kind", async () => {
    const list = await loadPipelineText(file, 'name: units\nsource: {list: {key: q}}\nbatch_size: 10\nhandler: {module: ./handler.mjs}\n', {
      env: {},
    });
    assert.match(
      list.ok ? '' : (list.issues[0]?.message ?? ''),
      /"batch_size" belongs at source\.list\.batch_size: check its indentation$/,
    );
    const channel = await loadPipelineText(
      file,
      'name: units\nsource: {channel: {channels: [a]}}\nbatch_size: 10\nhandler: {module: ./handler.mjs}\n',
      { env: {} },
    );
    assert.match(
      channel.ok ? '' : (channel.issues[0]?.message ?? ''),
      /"batch_size" is a setting of list and stream sources, not of channel sources/,
    );
  });
});
