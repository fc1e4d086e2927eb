// The published schema, checked with tools this project did not write: @hyperjump/json-schema (a
// second, independent validator) and yaml-language-server itself (the editors' `$schema` modeline),
// over the raw YAML of every shipped pipeline and every pipeline written out in the docs. Raw means
// before `${VAR}` substitution: that is what an editor or a CI linter sees.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { registerSchema, validate } from '@hyperjump/json-schema/draft-07';
import { parse } from 'yaml';
import { loadPipelineText } from '../../src/config/index.ts';
import { pipelineSchema, publishedPipelineSchema, schemaPath, strictOf } from '../../src/config/schema.ts';
import { ROOT } from '../helpers/pipelines.ts';
import { LanguageServer } from './support/language-server.ts';

interface Sample {
  name: string;
  /** Where the YAML is resolved from: the file itself, or a virtual file beside the doc. */
  file: string;
  text: string;
}

const MINIMAL = { name: 'snippet', source: { list: { key: 'jobs' } }, handler: { module: './handler.mjs' } };
const TOP_LEVEL = Object.keys(publishedPipelineSchema().properties ?? {});

function shippedPipelines(): Sample[] {
  const dir = path.join(ROOT, 'pipelines');
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => ({ name: `pipelines/${f}`, file: path.join(dir, f), text: readFileSync(path.join(dir, f), 'utf8') }));
}

/** Fenced yaml blocks of README.md and docs/*.md whose top-level keys are all pipeline keys. */
function docSnippets(): { whole: Sample[]; fragments: Sample[] } {
  const docs = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).map((f) => `docs/${f}`)].filter((f) => f.endsWith('.md'));
  const whole: Sample[] = [];
  const fragments: Sample[] = [];
  for (const doc of docs) {
    const text = readFileSync(path.join(ROOT, doc), 'utf8');
    let n = 0;
    for (const match of text.matchAll(/^```yaml\n([\s\S]*?)^```/gm)) {
      n++;
      let data: unknown;
      try {
        data = parse(match[1] as string, { uniqueKeys: true });
      } catch {
        continue; // several alternatives in one block (e.g. docs/scaling.md's redis: examples)
      }
      if (data === null || typeof data !== 'object' || Array.isArray(data)) continue;
      const keys = Object.keys(data);
      if (!keys.every((k) => TOP_LEVEL.includes(k))) continue;
      const sample = { name: `${doc} block ${n}`, file: path.join(ROOT, path.dirname(doc), 'snippet.yml'), text: match[1] as string };
      if (['name', 'source', 'handler'].every((k) => keys.includes(k))) whole.push(sample);
      else fragments.push(sample);
    }
  }
  return { whole, fragments };
}

async function hyperjump(instance: unknown): Promise<string[]> {
  const output = await validate(publishedPipelineSchema().$id as string, instance as never, 'BASIC');
  return output.valid ? [] : (output.errors ?? []).map((e) => `${e.instanceLocation}: ${e.keyword}`);
}

describe('the published schema, checked by other validators', () => {
  const pipelines = shippedPipelines();
  const { whole, fragments } = docSnippets();

  before(() => {
    registerSchema(publishedPipelineSchema() as never);
  });

  it('finds the samples it is meant to check', () => {
    assert.ok(pipelines.length >= 6, `only ${pipelines.length} pipelines`);
    assert.ok(whole.length >= 2, `only ${whole.length} whole pipelines in the docs`);
    assert.ok(fragments.length >= 4, `only ${fragments.length} pipeline fragments in the docs`);
  });

  it('strips back exactly to the strict schema that scripts/gen-schema.mjs authors', async () => {
    const generator = (await import(pathToFileURL(path.join(ROOT, 'scripts/gen-schema.mjs')).href)) as { strictSchema: unknown };
    assert.deepEqual(pipelineSchema(), generator.strictSchema);
    assert.deepEqual(strictOf(publishedPipelineSchema()), pipelineSchema());
  });

  it('@hyperjump/json-schema accepts the raw YAML of every pipelines/*.yml', async () => {
    for (const sample of pipelines) assert.deepEqual(await hyperjump(parse(sample.text)), [], sample.name);
  });

  it('@hyperjump/json-schema accepts every pipeline in the docs, whole or as a fragment of a minimal one', async () => {
    for (const sample of whole) assert.deepEqual(await hyperjump(parse(sample.text)), [], sample.name);
    for (const sample of fragments) assert.deepEqual(await hyperjump({ ...MINIMAL, ...(parse(sample.text) as object) }), [], sample.name);
  });

  it('accepts ${VAR} references where a scalar goes, and stays strict on literal values', async () => {
    const ok = (extra: object) => ({ ...MINIMAL, ...extra });
    assert.deepEqual(
      await hyperjump(
        ok({ redis: { port: '${REDIS_PORT:-6379}', host: '${REDIS_HOST}' }, concurrency: '${N:?set N}', broker: '${BROKER:-redis}' }),
      ),
      [],
    );
    assert.deepEqual(
      await hyperjump(
        ok({
          name: '${NAME}',
          source: { channel: { channels: ['${CHANNEL}'] } },
          resilience: { circuit_breaker: { enabled: '${BREAKER}' } },
        }),
      ),
      [],
    );
    assert.deepEqual(await hyperjump(ok({ redis: { url: 'redis://${REDIS_HOST}:6379' } })), []);
    // Literal values are checked as strictly as `pythia validate` checks them.
    assert.notDeepEqual(await hyperjump(ok({ redis: { port: '6379' } })), []);
    assert.notDeepEqual(await hyperjump(ok({ redis: { port: 70000 } })), []);
    assert.notDeepEqual(await hyperjump(ok({ concurrency: 'ten' })), []);
    assert.notDeepEqual(await hyperjump(ok({ broker: 'rabbitmq' })), []);
    assert.notDeepEqual(await hyperjump(ok({ name: 'Has Spaces' })), []);
    // Not a reference: `$${` is a literal, and `${}` or `$VAR` substitute nothing.
    assert.notDeepEqual(await hyperjump(ok({ concurrency: '$${N}' })), []);
    assert.notDeepEqual(await hyperjump(ok({ concurrency: '${}' })), []);
    assert.notDeepEqual(await hyperjump(ok({ concurrency: '$N' })), []);
    // Mappings are not scalars: a reference there is as wrong for the editor as for the loader's contract.
    assert.notDeepEqual(await hyperjump(ok({ redis: '${REDIS}' })), []);
  });

  it('pythia validate still checks the substituted result strictly', async () => {
    const file = path.join(ROOT, 'test/fixtures/support/inline.yml');
    const text = 'name: n\nsource: {list: {key: jobs}}\nhandler: {module: ./handler.mjs}\nredis: {port: "${PORT}"}\n';
    const good = await loadPipelineText(file, text, { env: { PORT: '6380' } });
    assert.equal(good.ok, true);
    const bad = await loadPipelineText(file, text, { env: { PORT: 'http' } });
    assert.equal(bad.ok, false);
    assert.match(bad.ok ? '' : (bad.issues[0]?.message ?? ''), /redis\.port must be an integer, got string "http".*comes from \$\{PORT\}/);
  });
});

describe('yaml-language-server over LSP (stdio)', () => {
  let server: LanguageServer;
  const schemaUrl = pathToFileURL(schemaPath).href;

  before(async () => {
    server = await LanguageServer.start(ROOT);
  });
  after(async () => {
    await server?.stop();
  });

  it('reports no diagnostics on any pipelines/*.yml (through their own $schema modeline)', async () => {
    for (const sample of shippedPipelines()) {
      assert.match(sample.text, /^# yaml-language-server: \$schema=\.\.\/schema\/pipeline\.schema\.json$/m, sample.name);
      const diagnostics = await server.diagnose(sample.file, sample.text);
      assert.deepEqual(
        diagnostics.map((d) => `${d.range.start.line + 1}: ${d.message}`),
        [],
        sample.name,
      );
    }
  });

  it('reports no diagnostics on the whole pipelines in the docs', async () => {
    for (const sample of docSnippets().whole) {
      const text = `# yaml-language-server: $schema=${schemaUrl}\n${sample.text.replace(/^# yaml-language-server:.*\n/m, '')}`;
      const diagnostics = await server.diagnose(sample.file, text);
      assert.deepEqual(
        diagnostics.map((d) => `${d.range.start.line + 1}: ${d.message}`),
        [],
        sample.name,
      );
    }
  });

  it('does report a literal wrong value (so the schema is really applied)', async () => {
    const text = `# yaml-language-server: $schema=${schemaUrl}\nname: n\nsource: {list: {key: jobs}}\nhandler: {module: ./h.mjs}\nconcurrency: ten\nredis: {port: "\${PORT}"}\n`;
    const diagnostics = await server.diagnose(path.join(ROOT, 'pipelines/wrong.yml'), text);
    assert.deepEqual(
      diagnostics.map((d) => d.range.start.line + 1),
      [5],
    );
  });

  it("shows a key's default on hover, and an enum value's own description", async () => {
    const text = `# yaml-language-server: $schema=${schemaUrl}\nname: n\nsource:\n  list:\n    key: jobs\n    delivery: at-most-once\nhandler: {module: ./h.mjs}\nconcurrency: 4\n`;
    const file = path.join(ROOT, 'pipelines/hover.yml');
    await server.diagnose(file, text);
    const concurrency = await server.hover(file, 7, 3);
    assert.match(concurrency, /Messages in flight at once/);
    assert.match(concurrency, /Default: `10`/);
    // Each value with its own description (the one in use first), no longer one text for all.
    const delivery = await server.hover(file, 5, 16);
    assert.match(delivery, /What a crash may cost\.\n\nDefault: `"at-least-once"`/);
    assert.match(
      delivery,
      /\* `at-most-once`: Items are popped: faster, but in-flight items are lost on a crash\.\n\* `at-least-once`: Items move into a per-consumer processing hash/,
    );
  });
});
