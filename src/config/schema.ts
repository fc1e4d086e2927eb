import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The published pipeline JSON Schema (editors, `pythia schema`, third-party validators): constrained
 * scalars also accept an environment reference such as `${PORT:-6379}`.
 */
export const schemaPath = fileURLToPath(new URL('../../schema/pipeline.schema.json', import.meta.url));

export type JsonSchema = {
  $id?: string;
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  [keyword: string]: unknown;
};

/** Keywords only editors read (hover and completion texts). */
const EDITOR_KEYWORDS = new Set(['markdownDescription', 'enumDescriptions', 'markdownEnumDescriptions']);
const ENV_REFERENCE = '#/definitions/envReference';

/** The published node without its editor keywords and without the environment-reference alternative. */
export function strictOf(node: JsonSchema): JsonSchema {
  const alternatives = node.anyOf;
  if (alternatives?.length === 2 && alternatives[1]?.$ref === ENV_REFERENCE) {
    const { anyOf: _anyOf, ...outer } = node;
    return strictOf({ ...outer, ...(alternatives[0] as JsonSchema) });
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (EDITOR_KEYWORDS.has(key) || key === 'definitions') continue;
    if (key === 'properties')
      out.properties = Object.fromEntries(Object.entries(value as Record<string, JsonSchema>).map(([name, sub]) => [name, strictOf(sub)]));
    else if (key === 'items' || (key === 'additionalProperties' && typeof value === 'object')) out[key] = strictOf(value as JsonSchema);
    else out[key] = value;
  }
  return out;
}

let publishedText: string | undefined;
/** The text of schema/pipeline.schema.json (read once). */
export function publishedSchemaText(): string {
  publishedText ??= readFileSync(schemaPath, 'utf8');
  return publishedText;
}

let published: JsonSchema | undefined;
/** schema/pipeline.schema.json as published. */
export function publishedPipelineSchema(): JsonSchema {
  published ??= JSON.parse(publishedSchemaText()) as JsonSchema;
  return published;
}

let cached: JsonSchema | undefined;
/**
 * The strict schema: the single source of truth for the DSL, checked against a pipeline after its
 * `${VAR}` references are substituted (so `port: "${PORT}"` must still end up an integer).
 */
export function pipelineSchema(): JsonSchema {
  cached ??= strictOf(publishedPipelineSchema());
  return cached;
}
