import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Options, ValidateFunction } from 'ajv';
import { newAjv } from './ajv.ts';
import { publishedSchemaText, pipelineSchema } from './schema.ts';

/**
 * The options the pipeline schema is compiled with. strictRequired off: oneOf branches name
 * properties their parent defines. verbose: error messages read the failing value and its schema.
 */
const OPTIONS: Options = { strict: true, strictRequired: false, allErrors: true, useDefaults: true, verbose: true };

/** The prebuilt validator next to the compiled module (dist/config/), written by scripts/build.mjs. */
export const PREBUILT_FILE = 'pipeline-validator.cjs';

const require = createRequire(import.meta.url);

/** Identifies the schema a prebuilt validator was generated from. */
function schemaHash(): string {
  return createHash('sha256').update(publishedSchemaText()).digest('hex');
}

/** Compiles the pipeline schema (about 100-150 ms, which start-up avoids when the prebuilt file is current). */
export function compilePipelineValidator(): ValidateFunction {
  return newAjv(OPTIONS).compile(pipelineSchema());
}

/**
 * The CommonJS source of a standalone validator (ajv standalone code) for the pipeline schema, with
 * the hash of the schema it was generated from. Same options, so the same errors in the same order.
 */
export function pipelineValidatorSource(): string {
  const ajv = newAjv({ ...OPTIONS, code: { source: true } });
  const validate = ajv.compile(pipelineSchema());
  const { default: standalone } = require('ajv/dist/standalone') as typeof import('ajv/dist/standalone/index.js');
  return `${standalone(ajv, validate)}\nmodule.exports.schemaHash = ${JSON.stringify(schemaHash())};\n`;
}

/**
 * The validator of the pipeline schema: the prebuilt one when it exists and was generated from the
 * schema file in use, else compiled here (running from the sources, or a schema changed after a build).
 */
export function loadPipelineValidator(): ValidateFunction {
  const prebuilt = new URL(`./${PREBUILT_FILE}`, import.meta.url);
  if (existsSync(prebuilt)) {
    const mod = require(fileURLToPath(prebuilt)) as ValidateFunction & { schemaHash?: string };
    if (mod.schemaHash === schemaHash()) return mod;
  }
  return compilePipelineValidator();
}
