// Property-based fuzzing of what hostile people and systems control: pipeline file text, message
// schemas and message bodies. Whatever the input, the loader answers valid or with located issues
// (never a throw, a stack trace, or an endless message), and the decoder answers ok or a dead-letter
// reason. Each property stops after a few seconds (fast-check's interruptAfterTimeLimit); the
// per-case bound is a failure bound for runaway inputs, not a speed assertion.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { loadPipelineText, type ConfigIssue, type LoadResult } from '../../src/config/index.ts';
import { createDecoder } from '../../src/runtime/decode.ts';
import { ROOT } from '../helpers/pipelines.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'pythia-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = path.join(dir, 'fuzz.yml');

const SECONDS = 3_000;
const CASE_BOUND_MS = 5_000;
const HEAP_BOUND_BYTES = 512 * 1024 * 1024;
const STACK_LINE = /^\s+at .+[(:]/m;

const seeds = [
  'orders.yml',
  'events.yml',
  'notifications.yml',
  'reports-command.yml',
  'tasks-command-persistent.yml',
  'orders-batch.yml',
].map((name) => readFileSync(path.join(ROOT, 'pipelines', name), 'utf8'));

function assertAnswer(result: LoadResult, input: string): void {
  if (result.ok) return;
  assert.ok(result.issues.length > 0, 'an invalid file has at least one issue');
  for (const issue of result.issues as ConfigIssue[]) {
    assert.equal(issue.file, file);
    assert.ok(
      Number.isInteger(issue.line) && issue.line >= 1 && Number.isInteger(issue.col) && issue.col >= 1,
      `located: ${JSON.stringify(issue)}`,
    );
    assert.ok(issue.line <= input.split('\n').length + 1, `line ${issue.line} is inside the file`);
    assert.equal(typeof issue.message, 'string');
    assert.doesNotMatch(issue.message, STACK_LINE);
    assert.ok(issue.message.length <= 2_000, `a ${issue.message.length}-character message`);
  }
}

async function load(text: string): Promise<void> {
  const heapBefore = process.memoryUsage().heapUsed;
  const start = performance.now();
  const result = await loadPipelineText(file, text, { importModules: false, env: { REDIS_URL: 'redis://127.0.0.1:1' } });
  const ms = performance.now() - start;
  assertAnswer(result, text);
  assert.ok(ms < CASE_BOUND_MS, `one file took ${ms.toFixed(0)} ms`);
  assert.ok(process.memoryUsage().heapUsed - heapBefore < HEAP_BOUND_BYTES, 'one file used more than 512 MB of heap');
}

/** A seed pipeline with a few characters inserted, deleted or replaced at random places. */
const editChar = fc.constantFrom(
  ':',
  '-',
  ' ',
  '\n',
  '\t',
  '"',
  "'",
  '{',
  '}',
  '[',
  ']',
  '&',
  '*',
  '!',
  '#',
  '$',
  '|',
  '>',
  'a',
  '1',
  '\u00ff',
  '\u0000',
);
const edit = fc.tuple(fc.nat(), fc.nat(4), fc.string({ unit: editChar, maxLength: 6 }));
const mutated = fc.tuple(fc.constantFrom(...seeds), fc.array(edit, { maxLength: 8 })).map(([seed, edits]) =>
  edits.reduce((text, [at, remove, insert]) => {
    const i = at % (text.length + 1);
    return text.slice(0, i) + insert + text.slice(i + remove);
  }, seed),
);

const options = { interruptAfterTimeLimit: SECONDS, numRuns: 100_000 };

describe('fuzz: pipeline files', () => {
  it('found by the fuzzer: a scalar where an exactly-one-of mapping belongs (handler: 0) is located, not a TypeError', async () => {
    await load('handler: 0\n');
    const result = await loadPipelineText(file, 'handler: 0\n', { importModules: false });
    assert.ok(
      !result.ok && result.issues.some((i) => i.message === 'handler must be a mapping, got number 0' && i.line === 1 && i.col === 10),
    );
  });

  it('random text: valid or located issues', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 400 }), load), options);
  });

  it('mutated example pipelines: valid or located issues', async () => {
    await fc.assert(fc.asyncProperty(mutated, load), options);
  });

  it('random YAML structures with the pipeline keys: valid or located issues', async () => {
    const keys = fc.constantFrom(
      'version',
      'name',
      'redis',
      'source',
      'list',
      'key',
      'handler',
      'module',
      'command',
      'message',
      'schema',
      'format',
      'concurrency',
      'url',
      'password',
      'env',
      'output',
      'dead_letter',
      'x',
    );
    const tree = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.jsonValue({ maxDepth: 1 }),
        fc.dictionary(keys, tie('node'), { maxKeys: 5 }),
        fc.array(tie('node'), { maxLength: 3 }),
      ),
    })).node;
    await fc.assert(
      fc.asyncProperty(fc.dictionary(keys, tree, { maxKeys: 8 }), (data) => load(stringify(data))),
      options,
    );
  });

  it('random message schemas: valid or an issue located at message.schema', async () => {
    const schemaFile = path.join(dir, 'fuzz.schema.json');
    const pattern = fc.string({
      unit: fc.constantFrom('a', '(', ')', '+', '*', '?', '|', '^', '$', '\\', '1', '[', ']', '{', '}', ',', '.'),
      maxLength: 12,
    });
    const schema = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc
        .record(
          {
            type: fc.constantFrom('object', 'string', 'objekt'),
            pattern,
            properties: fc.dictionary(fc.string({ maxLength: 5 }), fc.record({ type: fc.constantFrom('string', 'number'), pattern })),
          },
          { requiredKeys: [] },
        )
        .map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 200 }),
    );
    const base = `version: 1\nname: fuzz\nsource: {list: {key: q}}\nhandler: {module: ${path.join(ROOT, 'test/fixtures/support/handler.mjs')}}\nmessage: {format: json, schema: ${schemaFile}}\n`;
    await fc.assert(
      fc.asyncProperty(schema, async (text) => {
        writeFileSync(schemaFile, text);
        const result = await loadPipelineText(file, base, { importModules: false });
        assertAnswer(result, base);
        if (!result.ok) for (const issue of result.issues) assert.deepEqual([issue.line, issue.col], [5, 33], issue.message);
      }),
      options,
    );
  });
});

describe('fuzz: message bodies', () => {
  const schemaFile = path.join(dir, 'body.schema.json');
  writeFileSync(
    schemaFile,
    JSON.stringify({
      type: 'object',
      required: ['id'],
      properties: {
        id: { type: 'integer' },
        name: { type: 'string', pattern: '^(a+)+$' },
        tags: { type: 'array', items: { type: 'string', pattern: '(x|x)*y' } },
      },
    }),
  );
  const decode = createDecoder({ format: 'json', schema: schemaFile, max_bytes: 4096 }, dir);

  it('random bytes and JSON-ish bodies: ok or a dead-letter reason, in bounded time', async () => {
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 600 }).map((bytes) => Buffer.from(bytes)),
      fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
      fc
        .record(
          {
            id: fc.integer(),
            name: fc.string({ unit: fc.constantFrom('a', 'b', '!'), maxLength: 64 }),
            tags: fc.array(fc.string({ unit: fc.constantFrom('x', 'y'), maxLength: 64 }), { maxLength: 4 }),
          },
          { requiredKeys: [] },
        )
        .map((v) => Buffer.from(JSON.stringify(v))),
      fc.string({ unit: 'binary', maxLength: 5000 }).map((s) => Buffer.from(s)),
    );
    await fc.assert(
      fc.property(body, (raw) => {
        const start = performance.now();
        const result = decode(raw);
        assert.ok(performance.now() - start < CASE_BOUND_MS);
        if (!result.ok) {
          assert.ok(['too_large', 'invalid_json', 'schema_invalid'].includes(result.reason), result.reason);
          assert.doesNotMatch(result.error, STACK_LINE);
        }
      }),
      options,
    );
  });
});
