// Pipeline files with huge keys and values, tens of thousands of keys, or bytes that are not UTF-8:
// each gives a located error in bounded time, echoing at most 80 characters of what it read. The per-test timeouts are failure bounds (the unbounded code took 10 to 70 s or
// never finished), not speed assertions.
import assert from 'node:assert/strict';
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

describe('content that used to cost without bound', () => {
  it('a 3 MB key (cap raised) is reported in bounded time, echoed in at most 80 characters', BOUND, async () => {
    const file = write('long-key.yml', `${BASE}? ${'k'.repeat(3_000_000)}\n: 1\n`);
    const [issue] = await issuesOf(file, { PYTHIA_MAX_PIPELINE_BYTES: '8000000' });
    const line = formatIssue(issue as ConfigIssue);
    assert.ok(line.length < 600, `the line is ${line.length} characters`);
    assert.match(line, /unknown key "k{80}…\(3000000 characters\)" in the top level/);
  });

  it('40 000 keys with one duplicate: the duplicate is found in linear time and located', BOUND, async () => {
    const keys = Array.from({ length: 40_000 }, (_, i) => `  key_number_${i}: 1\n`).join('');
    const file = write('many-keys.yml', `${BASE}  env_like:\n${keys}  key_number_7: 2\n`.replace('  env_like:\n', 'extra:\n'));
    const issues = await issuesOf(file);
    assert.equal(issues.length, 1);
    assert.equal(
      issues[0]?.message,
      'duplicate key "key_number_7": it is already set on line 16, and each key may appear once in a mapping',
    );
    assert.equal(issues[0]?.line, 40_009);
  });

  it('40 000 unknown keys are reported by the first 50, not one lookup each', BOUND, async () => {
    const keys = Array.from({ length: 40_000 }, (_, i) => `key_number_${i}: 1\n`).join('');
    const issues = await issuesOf(write('many-unknown.yml', `${BASE}${keys}`));
    assert.equal(issues.length, 51);
    assert.ok(issues.some((i) => i.message === 'more than 50 problems: only the first 50 are listed'));
  });

  it('a 900 kB value is echoed in at most 80 characters', BOUND, async () => {
    const file = write('big-scalar.yml', BASE.replace('name: orders', `name: ${'A'.repeat(900_000)}`));
    const issues = await issuesOf(file);
    for (const issue of issues) assert.ok(formatIssue(issue).length < 400);
    assert.ok(issues.some((issue) => /^name "A{80}…\(900000 characters\)" must be lowercase/.test(issue.message)));
  });

  it('a byte that is not UTF-8 is located and rejected, never replaced by U+FFFD', async () => {
    const file = write('latin1.yml', Buffer.concat([Buffer.from(`${BASE}concurr`), Buffer.from([0xff]), Buffer.from('ency: 3\n')]));
    const [issue] = await issuesOf(file);
    assert.equal(
      formatIssue(issue as ConfigIssue).replace(dir, 'DIR'),
      `DIR/latin1.yml:8:8: byte 0xff at offset ${BASE.length + 7} is not valid UTF-8: pipeline files and schemas must be UTF-8 text`,
    );
  });

  it('a schema that is not UTF-8 names the line and column in the schema file', async () => {
    const schema = write(
      'latin1.schema.json',
      Buffer.concat([Buffer.from('{\n  "description": "caf'), Buffer.from([0xe9]), Buffer.from('"\n}\n')]),
    );
    const [issue] = await issuesOf(write('latin1-schema.yml', schemaAt(schema)));
    assert.match(issue?.message ?? '', /byte 0xe9 at offset 23 is not valid UTF-8: .* \(line 2, column 22 of the schema file\)$/);
  });
});

describe('fine already, and kept so', () => {
  it('10 000 levels of nesting: a located answer, no stack overflow', BOUND, async () => {
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const result = await loadPipelineFile(write('deep.yml', `${BASE}concurrency: ${deep}\n`));
    assert.equal(result.ok, false);
    for (const issue of result.ok ? [] : result.issues) assert.ok(issue.line >= 1 && issue.message.length < 400, issue.message);
  });

  it('an alias bomb ("billion laughs") is refused at the first alias', BOUND, async () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 10; i++)
      levels.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(',')}]`,
      );
    const [issue] = await issuesOf(write('lol.yml', `${BASE}bomb:\n${levels.map((l) => `  ${l}`).join('\n')}\n`));
    assert.match(issue?.message ?? '', /YAML aliases expand to too many values/);
  });

  it('${VAR} values are substituted once, never re-expanded', async () => {
    const result = await loadPipelineFile(write('once.yml', BASE.replace('key: orders', 'key: "${PYTHIA_TEST_OUTER}"')), {
      env: { PYTHIA_TEST_OUTER: '${PYTHIA_TEST_INNER}', PYTHIA_TEST_INNER: 'expanded' },
    });
    assert.ok(result.ok);
    assert.equal(result.ok && result.pipeline.config.source.list?.key, '${PYTHIA_TEST_INNER}');
  });

  it('a message schema whose $ref loops compiles and is used, without hanging', BOUND, async () => {
    const schema = write(
      'loop.schema.json',
      JSON.stringify({
        $ref: '#/definitions/a',
        definitions: { a: { $ref: '#/definitions/b' }, b: { type: 'object', properties: { next: { $ref: '#/definitions/a' } } } },
      }),
    );
    const result = await loadPipelineFile(write('loop.yml', `${BASE}message: {format: json, schema: ${schema}}\n`));
    assert.equal(result.ok, true, JSON.stringify(result));
  });

  it('a ../ module path is resolved from the pipeline file and checked like any other', async () => {
    const [issue] = await issuesOf(write('up.yml', BASE.replace(`module: ${handler}`, 'module: ../../nowhere/handler.mjs')));
    assert.match(
      issue?.message ?? '',
      /^handler\.module file not found: \.\.\/\.\.\/nowhere\/handler\.mjs \(resolved to \/.*nowhere\/handler\.mjs\)$/,
    );
  });
});
