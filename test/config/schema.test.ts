// The schema is the single source of truth: complete (descriptions, defaults), closed
// (additionalProperties: false), and in step with its generator and the committed config types.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { generateConfigTypes } from '../../src/config/generate-types.ts';
import { pipelineSchema, schemaPath } from '../../src/config/index.ts';
import type { JsonSchema } from '../../src/config/schema.ts';

/**
 * Properties that have no default, on purpose: a default would pick one of several exclusive
 * choices for the user (a connection mode, a source kind, a handler kind, a dead letter or output
 * kind), or it is described in words because it is built from other fields (redis.url), or its
 * absence is the mode (handler.batch: absent, one message per call).
 */
const NO_DEFAULT = new Set([
  'redis.url',
  'redis.cluster',
  'redis.sentinel',
  'source.list',
  'source.stream',
  'source.channel',
  'handler.module',
  'handler.command',
  'handler.batch',
  'dead_letter.list',
  'dead_letter.stream',
  'output.list',
  'output.stream',
  'output.channel',
  // Unset, they come from the OTEL_* variables (as the OpenTelemetry SDKs read them); the description says so.
  'tracing.endpoint',
  'tracing.protocol',
  'tracing.service_name',
  // Flow control is off unless written: a default limit or ordering key would change every pipeline.
  'rate_limit',
  'ordering',
]);

/** Objects whose keys are the user's own: environment variable names, HTTP header names. */
const OPEN_OBJECTS = new Set(['handler.env', 'tracing.headers']);

interface Visited {
  path: string;
  schema: JsonSchema;
  required: boolean;
}

function properties(schema: JsonSchema, prefix: string[] = []): Visited[] {
  return Object.entries(schema.properties ?? {}).flatMap(([name, sub]) => {
    const here = [...prefix, name];
    return [{ path: here.join('.'), schema: sub, required: (schema.required ?? []).includes(name) }, ...properties(sub, here)];
  });
}

function objects(schema: JsonSchema, path = '(root)'): { path: string; schema: JsonSchema }[] {
  const own = schema.type === 'object' ? [{ path, schema }] : [];
  const children = Object.entries(schema.properties ?? {}).flatMap(([name, sub]) =>
    objects(sub, path === '(root)' ? name : `${path}.${name}`),
  );
  const items = schema.items ? objects(schema.items, `${path}[]`) : [];
  return [...own, ...children, ...items];
}

describe('pipeline JSON Schema', () => {
  const schema = pipelineSchema();
  const all = properties(schema);

  it('has an $id, a title and a draft-07 $schema', () => {
    assert.equal(typeof schema.$id, 'string');
    assert.match(schema.$id as string, /^https:\/\/.+\/pipeline\.schema\.json$/);
    assert.equal(schema.title, 'PipelineFile');
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  });

  it('compiles with ajv in strict mode', () => {
    new Ajv({ strict: true, strictRequired: false, allErrors: true }).compile(schema);
  });

  it('describes every property', () => {
    assert.ok(all.length > 50, `only ${all.length} properties found`);
    const missing = all
      .filter((p) => typeof p.schema.description !== 'string' || p.schema.description.trim().length < 5)
      .map((p) => p.path);
    assert.deepEqual(missing, []);
  });

  it('gives every property a default, except required ones and the documented exclusive choices', () => {
    const missing = all.filter((p) => p.schema.default === undefined && !p.required && !NO_DEFAULT.has(p.path)).map((p) => p.path);
    assert.deepEqual(missing, []);
    // The allowlist stays honest: each entry exists, is optional and really has no default.
    for (const name of NO_DEFAULT) {
      const found = all.find((p) => p.path === name);
      assert.ok(found, `${name} is not in the schema`);
      assert.equal(found.schema.default, undefined, `${name} has a default now: remove it from NO_DEFAULT`);
      assert.equal(found.required, false, `${name} is required`);
    }
  });

  it('has defaults that are valid values of their own property', () => {
    const ajv = new Ajv({ strict: false });
    const invalid = all
      .filter((p) => p.schema.default !== undefined)
      .filter((p) => {
        // A property's default need not satisfy `required` of its children: those are filled in by their own defaults.
        const { default: value, required: _required, ...rest } = p.schema;
        return !ajv.validate(rest, value);
      })
      .map((p) => `${p.path}: ${JSON.stringify(p.schema.default)}`);
    assert.deepEqual(invalid, []);
  });

  it('closes every object with additionalProperties: false, except handler.env', () => {
    const found = objects(schema);
    assert.ok(found.length > 15);
    const open = found.filter((o) => o.schema.additionalProperties !== false && !OPEN_OBJECTS.has(o.path)).map((o) => o.path);
    assert.deepEqual(open, []);
    for (const name of OPEN_OBJECTS) {
      const env = found.find((o) => o.path === name);
      assert.deepEqual(env?.schema.additionalProperties, { type: 'string' }, `${name} maps names to strings`);
    }
  });

  it('allows exactly one kind of source, handler, dead letter and output', () => {
    const props = schema.properties ?? {};
    assert.deepEqual([props.source?.minProperties, props.source?.maxProperties], [1, 1]);
    assert.deepEqual(props.handler?.oneOf, [{ required: ['module'] }, { required: ['command'] }]);
    assert.equal(props.dead_letter?.maxProperties, 1);
    // output also has envelope (how results are packed), so its one-kind rule names the kinds.
    assert.deepEqual(props.output?.not, {
      type: 'object',
      anyOf: [{ required: ['list', 'stream'] }, { required: ['list', 'channel'] }, { required: ['stream', 'channel'] }],
    });
    assert.deepEqual(schema.required, ['name', 'source', 'handler']);
  });

  it('is exactly what scripts/gen-schema.mjs writes (run `node scripts/gen-schema.mjs` after editing it)', async () => {
    const generator = (await import(new URL('../../scripts/gen-schema.mjs', import.meta.url).href)) as { schemaText: () => string };
    const committed = readFileSync(schemaPath, 'utf8');
    assert.equal(committed, generator.schemaText(), 'schema/pipeline.schema.json drifted from scripts/gen-schema.mjs');
  });

  it('matches the committed src/config/pipeline.types.ts (run `npm run types` after changing the schema)', async () => {
    const committed = readFileSync(new URL('../../src/config/pipeline.types.ts', import.meta.url), 'utf8');
    const fresh = await generateConfigTypes(schema);
    assert.equal(committed, fresh, 'src/config/pipeline.types.ts drifted from the schema');
  });
});
