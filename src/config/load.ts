import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { coerceSubstituted } from './coerce.ts';
import { PipelineConfigError, toPointer, type ConfigIssue } from './errors.ts';
import { interpolate } from './interpolate.ts';
import type { PipelineConfig } from './pipeline.types.ts';
import { FILE_LIMITS, maxBytesFor, readBoundedText } from './read-file.ts';
import { collectSecrets, redactText } from './redact.ts';
import { pipelineSchema } from './schema.ts';
import { checkAgainstSchema } from './schema-check.ts';
import { checkMeaning, checkWritten } from './semantic.ts';
import { checkUnits } from './units.ts';
import { parsePositioned, type PositionedDocument } from './yaml-document.ts';

/** A validated pipeline with every default applied, and where it came from. */
export interface LoadedPipeline {
  file: string;
  /** Directory of the file: module, schema, cwd and TLS paths are relative to it. */
  dir: string;
  config: PipelineConfig;
  /** Line and column of a key or value in the file, for errors found after loading. */
  locate: PositionedDocument['locate'];
  /** Problems that do not stop the pipeline (severity warning), e.g. seconds written in a `*_ms` key. */
  warnings: ConfigIssue[];
}

export type LoadResult = { ok: true; pipeline: LoadedPipeline } | { ok: false; issues: ConfigIssue[] };

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Import module handlers to check their export (default true). */
  importModules?: boolean;
  /** Warnings fail the file as errors do (`--strict`). */
  strict?: boolean;
  /** Called with each warning of a file that loaded (loadPipelines; loadPipelineFile returns them). */
  onWarning?: (issue: ConfigIssue) => void;
  /** Import them in a child process with a time limit, so their code cannot end or hang this one (validate). */
  isolateModules?: boolean;
}

export async function loadPipelineFile(file: string, options: LoadOptions = {}): Promise<LoadResult> {
  const env = options.env ?? process.env;
  const read = readBoundedText(file, maxBytesFor('pipeline', env), FILE_LIMITS.pipeline.env);
  if (!read.ok) return { ok: false, issues: [{ file, line: read.line, col: read.col, message: read.message }] };
  return loadPipelineText(file, read.text, options);
}

export async function loadPipelineText(file: string, text: string, options: LoadOptions = {}): Promise<LoadResult> {
  const parsed = parsePositioned(file, text);
  if (!parsed.ok) return parsed;
  const { doc } = parsed;
  const environment = options.env ?? process.env;
  const env = interpolate(doc.data, environment);
  const envIssues: ConfigIssue[] = env.problems.map((p) => ({
    file,
    ...doc.locate(p.path),
    message: p.message,
    pointer: toPointer(p.path),
  }));
  const data = env.data;
  coerceSubstituted(data, env.substituted, pipelineSchema());
  const warnings = checkUnits(data, pipelineSchema(), doc, text);
  const secrets = collectSecrets(doc.data, data, environment);
  const redacted = (list: ConfigIssue[]): ConfigIssue[] => list.map((issue) => ({ ...issue, message: redactText(issue.message, secrets) }));
  const written = checkWritten(data, doc);
  // A value emptied by a missing variable would also fail its type: report the variable only.
  const envPointers = new Set(envIssues.map((i) => i.pointer));
  const schemaIssues = checkAgainstSchema(data, doc, secrets)
    .filter((i) => !envPointers.has(i.pointer))
    .map((i) => withSource(i, doc.data, env.substituted));
  const issues = [...envIssues, ...written, ...schemaIssues];
  if (issues.length > 0) return { ok: false, issues: sortIssues(redacted([...issues, ...warnings])) };
  const config = data as PipelineConfig;
  const meaning = await checkMeaning(config, doc, {
    importModules: options.importModules ?? true,
    isolateModules: options.isolateModules ?? false,
  });
  if (meaning.length > 0) return { ok: false, issues: sortIssues(redacted([...meaning, ...warnings])) };
  if (options.strict && warnings.length > 0) return { ok: false, issues: sortIssues(redacted(warnings)) };
  return { ok: true, pipeline: { file, dir: path.dirname(path.resolve(file)), config, locate: doc.locate, warnings: redacted(warnings) } };
}

/** A wrong value that came from the environment says so: the file alone would not explain it. */
function withSource(issue: ConfigIssue, raw: unknown, substituted: readonly (string | number)[][]): ConfigIssue {
  const path = substituted.find((p) => toPointer(p) === issue.pointer);
  if (!path) return issue;
  let written: unknown = raw;
  for (const seg of path) written = (written as Record<string | number, unknown> | undefined)?.[seg];
  return typeof written === 'string' ? { ...issue, message: `${issue.message} (the value comes from ${written})` } : issue;
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues.sort((a, b) => a.line - b.line || a.col - b.col);
}

/** Expands directories into their *.yml / *.yaml files (sorted); files are kept as given. */
export function expandPipelinePaths(paths: readonly string[]): { files: string[]; missing: string[] } {
  const files: string[] = [];
  const missing: string[] = [];
  for (const given of paths) {
    let stats;
    try {
      stats = statSync(given);
    } catch {
      missing.push(given);
      continue;
    }
    if (stats.isDirectory()) {
      const entries = readdirSync(given)
        .filter((name) => /\.ya?ml$/.test(name))
        .sort();
      files.push(...entries.map((name) => path.join(given, name)));
    } else {
      files.push(given);
    }
  }
  return { files, missing };
}

/** Problems that only appear when several pipelines run in one process. */
export function checkTogether(pipelines: readonly LoadedPipeline[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const names = new Map<string, string>();
  let server: { pipeline: LoadedPipeline; host: string; port: number; path: string } | undefined;
  for (const pipeline of pipelines) {
    const { name, metrics } = pipeline.config;
    const first = names.get(name);
    if (first !== undefined)
      issues.push({
        file: pipeline.file,
        ...pipeline.locate(['name']),
        message: `pipeline name "${name}" is also used by ${first}: names must be unique in one process`,
        pointer: '/name',
      });
    names.set(name, pipeline.file);
    if (!metrics.enabled) continue;
    if (!server) {
      server = { pipeline, host: metrics.host, port: metrics.port, path: metrics.path };
    } else if (server.host !== metrics.host || server.port !== metrics.port || server.path !== metrics.path) {
      issues.push({
        file: pipeline.file,
        ...pipeline.locate(['metrics', 'port']),
        message: `metrics ${metrics.host}:${metrics.port}${metrics.path} differs from ${server.host}:${server.port}${server.path} in ${server.pipeline.file}: one process serves one metrics endpoint, so pipelines run together must agree`,
        pointer: '/metrics/port',
      });
    }
  }
  return issues;
}

/** Loads every file, or throws PipelineConfigError with all issues found. */
export async function loadPipelines(paths: readonly string[], options: LoadOptions = {}): Promise<LoadedPipeline[]> {
  const { files, missing } = expandPipelinePaths(paths);
  const issues: ConfigIssue[] = missing.map((file) => ({ file, line: 1, col: 1, message: 'no such file or directory' }));
  const pipelines: LoadedPipeline[] = [];
  for (const file of files) {
    const result = await loadPipelineFile(file, options);
    if (result.ok) {
      pipelines.push(result.pipeline);
      for (const warning of result.pipeline.warnings) options.onWarning?.(warning);
    } else {
      issues.push(...result.issues);
    }
  }
  if (files.length === 0 && missing.length === 0)
    issues.push({ file: paths.join(' '), line: 1, col: 1, message: 'no pipeline files (*.yml, *.yaml) found' });
  issues.push(...checkTogether(pipelines));
  if (issues.length > 0) throw new PipelineConfigError(issues);
  return pipelines;
}
