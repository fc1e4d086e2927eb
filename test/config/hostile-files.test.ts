// Pipeline and schema files that are huge, endless, not files, not UTF-8, or full of repeats: each
// gives a located error after reading at most the size cap, and no message echoes a long value or a
// credential back. The per-test timeouts are failure bounds (the unbounded code took 10 to 70 s or
// never finished), not speed assertions.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatIssue, loadPipelineFile, type ConfigIssue } from '../../src/config/index.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const handler = path.join(root, 'test/fixtures/support/handler.mjs');
const BASE = `version: 1\nname: orders\nsource:\n  list:\n    key: orders\nhandler:\n  module: ${handler}\n`;
const BOUND = { timeout: 30_000 };

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'pythia-hostile-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: string | Buffer): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

async function issuesOf(file: string, env: NodeJS.ProcessEnv = process.env): Promise<ConfigIssue[]> {
  const result = await loadPipelineFile(file, { env });
  assert.equal(result.ok, false, 'the file must be rejected');
  return result.ok ? [] : result.issues;
}

function schemaAt(schema: string): string {
  return `${BASE}message: {format: json, schema: ${schema}}\n`;
}

describe('files that are not bounded regular files', () => {
  it('message.schema: /dev/zero is rejected at its line, without reading it', BOUND, async () => {
    const [issue] = await issuesOf(write('zero.yml', schemaAt('/dev/zero')));
    assert.equal(
      formatIssue(issue as ConfigIssue).replace(dir, 'DIR'),
      'DIR/zero.yml:8:33: message.schema /dev/zero: not a regular file (a device): give the path of a file (at /message/schema)',
    );
  });

  it('message.schema naming a FIFO (as /dev/stdin can be) is rejected without waiting for a writer', BOUND, async () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const [issue] = await issuesOf(write('fifo.yml', schemaAt(fifo)));
    assert.match(issue?.message ?? '', /not a regular file \(a pipe\)/);
    assert.deepEqual([issue?.line, issue?.col], [8, 33]);
  });

  it('pythia validate with message.schema: /dev/stdin and a stdin that never closes ends with a located error', BOUND, async () => {
    const file = write('stdin.yml', schemaAt('/dev/stdin'));
    const child = spawn(process.execPath, [path.join(root, 'bin/pythia.js'), 'validate', file], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.stdin.destroy();
    assert.equal(code, 1);
    assert.match(out, /stdin\.yml:8:33: message\.schema \/dev\/stdin: not a regular file \(a (pipe|device|socket)\)/);
  });

  it('a directory as message.schema is a located error, not EISDIR', async () => {
    const [issue] = await issuesOf(write('dir.yml', schemaAt(dir)));
    assert.match(issue?.message ?? '', /not a regular file \(a directory\)/);
    assert.deepEqual([issue?.line, issue?.col], [8, 33]);
  });

  it('a schema past the cap is rejected with the cap and how to raise it; a raised cap accepts it', BOUND, async () => {
    const properties = Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`p${i}`, { type: 'string' }]));
    const big = write('big.schema.json', JSON.stringify({ type: 'object', properties }));
    const [issue] = await issuesOf(write('big-schema.yml', schemaAt(big)));
    assert.match(
      issue?.message ?? '',
      /the file is \d+ bytes, more than the limit of 4194304 \(set PYTHIA_MAX_SCHEMA_BYTES to raise it\)$/,
    );
    const small = write('small.schema.json', JSON.stringify({ type: 'object', description: 'x'.repeat(200) }));
    process.env.PYTHIA_MAX_SCHEMA_BYTES = '100';
    try {
      const [capped] = await issuesOf(write('small-schema.yml', schemaAt(small)));
      assert.match(capped?.message ?? '', /more than the limit of 100 \(set PYTHIA_MAX_SCHEMA_BYTES/);
    } finally {
      delete process.env.PYTHIA_MAX_SCHEMA_BYTES;
    }
    assert.equal((await loadPipelineFile(write('small-ok.yml', schemaAt(small)))).ok, true);
  });

  it('a pipeline file past its cap is rejected at 1:1 naming PYTHIA_MAX_PIPELINE_BYTES', async () => {
    const file = write('huge.yml', `${BASE}# ${'x'.repeat(1_100_000)}\n`);
    const [issue] = await issuesOf(file);
    assert.equal(
      issue?.message,
      `the file is ${BASE.length + 1_100_003} bytes, more than the limit of 1048576 (set PYTHIA_MAX_PIPELINE_BYTES to raise it)`,
    );
    assert.equal((await loadPipelineFile(file, { env: { PYTHIA_MAX_PIPELINE_BYTES: '2000000' } })).ok, true);
  });
});

describe('messages never echo a credential or a schema file', () => {
  it('redis.url with user:password@ and a wrong scheme', async () => {
    const file = write('url.yml', BASE.replace('source:', 'redis:\n  url: "http://default:s3cretPW@localhost:6379"\nsource:'));
    const [issue] = await issuesOf(file);
    assert.doesNotMatch(formatIssue(issue as ConfigIssue), /s3cretPW/);
    assert.match(issue?.message ?? '', /^redis\.url "http:\/\/\[redacted\]@localhost:6379" must start with redis:\/\/ or rediss:\/\//);
  });

  it('a password variable used where a port belongs', async () => {
    const file = write('port.yml', BASE.replace('source:', 'redis:\n  password: ${REDIS_PASSWORD}\n  port: ${REDIS_PASSWORD}\nsource:'));
    const [issue] = await issuesOf(file, { REDIS_PASSWORD: 's3cretPW' });
    assert.equal(issue?.message, 'redis.port must be an integer, got string "[redacted]" (the value comes from ${REDIS_PASSWORD})');
  });

  it('a wrong-typed password is not shown', async () => {
    const file = write('password.yml', BASE.replace('source:', 'redis:\n  password: 73315249\nsource:'));
    const [issue] = await issuesOf(file);
    assert.equal(issue?.message, 'redis.password must be a string, got number [redacted]');
  });

  it('tracing.headers values (OTLP API keys) are not shown, nor the variables they read', async () => {
    const typed = write('otlp-number.yml', `${BASE}tracing:\n  headers: {x-api-key: 73315249}\n`);
    const [issue] = await issuesOf(typed);
    assert.equal(issue?.message, 'tracing.headers.x-api-key must be a string, got number [redacted]');
    const fromVariable = write(
      'otlp-var.yml',
      `${BASE}tracing:\n  headers: {authorization: "\${OTLP_AUTH}"}\n  sample_ratio: "\${OTLP_AUTH}"\n`,
    );
    const [misused] = await issuesOf(fromVariable, { OTLP_AUTH: 'Bearer s3cretToken' });
    assert.doesNotMatch(formatIssue(misused as ConfigIssue), /s3cretToken/);
  });

  it('message.schema naming a file that is not JSON never shows its content', async () => {
    const shadow = write('shadow', 'root:$6$s3cretHash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n');
    const [issue] = await issuesOf(write('shadow.yml', schemaAt(shadow)));
    assert.doesNotMatch(issue?.message ?? '', /root|s3cretHash|daemon/);
    assert.match(issue?.message ?? '', /is not valid JSON/);
  });
});

describe('validate output cannot forge terminal lines', () => {
  it('ANSI escapes and newlines in keys, channel names and values are shown escaped', BOUND, async () => {
    const sub = mkdtempSync(path.join(dir, 'ansi-'));
    const valid = path.join(sub, 'a-valid.yml');
    writeFileSync(
      valid,
      `version: 1\nname: ansi\nsource: {channel: {channels: ["news\\e[2J\\e[31m\\x9b2J\\NFORGED"]}}\nhandler: {module: ${handler}}\n`,
    );
    const invalid = path.join(sub, 'b-invalid.yml');
    writeFileSync(invalid, `${BASE}"con\\e[8mcurrency\\nb-invalid.yml:1:1: fine": 3\n`);
    const child = spawn(process.execPath, [path.join(root, 'bin/pythia.js'), 'validate', sub], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    assert.equal(await new Promise<number | null>((resolve) => child.on('exit', resolve)), 1);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    const lines = out.trimEnd().split('\n');
    assert.equal(lines.length, 4, out);
    assert.match(lines[0] ?? '', /a-valid\.yml: valid: .*news\\u001b\[2J\\u001b\[31m\\u009b2J\\u0085FORGED/);
    assert.match(lines[2] ?? '', /b-invalid\.yml:8:1: unknown key "con\\u001b\[8mcurrency\\nb-invalid\.yml:1:1: fine"/);
  });
});
