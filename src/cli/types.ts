import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatIssue, loadPipelineFile, pipelineSchema } from '../config/index.ts';
import { generateBodyTypes, generateConfigTypes } from '../config/generate-types.ts';
import type { JsonSchema } from '../config/schema.ts';

export interface TypesOptions {
  out?: string;
  configOut?: string;
}

const pascal = (name: string) =>
  name
    .split(/[-_]/)
    .filter(Boolean)
    .map((p) => p[0]?.toUpperCase() + p.slice(1))
    .join('');

/**
 * `pythia types [FILE...] [--out DIR]`: the config types from the schema (stdout, or DIR/pipeline.types.ts),
 * and for each pipeline with a message.schema, DIR/<name>.message.ts with the body type.
 */
export async function typesCommand(files: string[], options: TypesOptions): Promise<number> {
  const configTypes = await generateConfigTypes(pipelineSchema());
  if (options.configOut) writeFileSync(options.configOut, configTypes);
  if (files.length === 0) {
    if (options.out) {
      mkdirSync(options.out, { recursive: true });
      writeFileSync(path.join(options.out, 'pipeline.types.ts'), configTypes);
    } else if (!options.configOut) {
      process.stdout.write(configTypes);
    }
    return 0;
  }
  let failed = false;
  for (const file of files) {
    const result = await loadPipelineFile(file, { importModules: false });
    if (!result.ok) {
      for (const issue of result.issues) process.stderr.write(formatIssue(issue) + '\n');
      failed = true;
      continue;
    }
    const { config, dir } = result.pipeline;
    if (config.message.schema === '') {
      process.stderr.write(`${file}: no message.schema, so the body type is unknown; nothing written\n`);
      continue;
    }
    const bodySchema = JSON.parse(readFileSync(path.resolve(dir, config.message.schema), 'utf8')) as JsonSchema;
    const typeName = `${pascal(config.name)}MessageBody`;
    const source = await generateBodyTypes(bodySchema, typeName);
    if (options.out) {
      mkdirSync(options.out, { recursive: true });
      const target = path.join(options.out, `${config.name}.message.ts`);
      writeFileSync(target, source);
      process.stderr.write(`${file}: wrote ${target} (${typeName})\n`);
    } else {
      process.stdout.write(source);
    }
  }
  return failed ? 1 : 0;
}
