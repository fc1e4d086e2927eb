import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The pipeline JSON Schema: the single source of truth for the DSL. */
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
  [keyword: string]: unknown;
};

let cached: JsonSchema | undefined;
export function pipelineSchema(): JsonSchema {
  cached ??= JSON.parse(readFileSync(schemaPath, 'utf8')) as JsonSchema;
  return cached;
}
