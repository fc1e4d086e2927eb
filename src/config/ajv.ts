import { createRequire } from 'node:module';
import type { Ajv, Options } from 'ajv';

const require = createRequire(import.meta.url);

/**
 * A new Ajv, with the library loaded on first use (synchronously: it is CommonJS). A worker whose
 * pipelines have no message.schema, started from the built package, never loads it: its ~60 modules
 * cost start-up time and memory (docs/performance.md).
 */
export function newAjv(options: Options): Ajv {
  const { Ajv: AjvClass } = require('ajv') as typeof import('ajv');
  return new AjvClass(options);
}
