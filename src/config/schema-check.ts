import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { ConfigIssue } from './errors.ts';
import { dotted, fromPointer, toPointer } from './errors.ts';
import { pipelineSchema, type JsonSchema } from './schema.ts';
import { suggestKey } from './suggest.ts';
import type { PositionedDocument } from './yaml-document.ts';

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv({ strict: true, strictRequired: false, allErrors: true, useDefaults: true, verbose: true }) // strictRequired off: oneOf branches name properties their parent defines;
    compiled = ajv.compile(pipelineSchema());
  }
  return compiled;
}

/** Validates and fills defaults in place; returns every problem located in the file. */
export function checkAgainstSchema(data: unknown, doc: PositionedDocument): ConfigIssue[] {
  const validate = validator();
  if (validate(data)) return [];
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const error of validate.errors ?? []) {
    const issue = describe(error, doc);
    if (!issue) continue;
    const id = `${issue.line}:${issue.col}:${issue.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    issues.push(issue);
  }
  return issues.sort((a, b) => a.line - b.line || a.col - b.col);
}

function describe(error: ErrorObject, doc: PositionedDocument): ConfigIssue | null {
  // Branch errors inside oneOf are summarised by the oneOf error itself.
  if (error.schemaPath.includes('/oneOf/')) return null;
  const path = fromPointer(error.instancePath);
  const where = dotted(path);
  const issue = (message: string, at: string[] = path, target: 'key' | 'value' = 'value'): ConfigIssue => ({
    file: doc.file,
    ...doc.locate(at, target),
    message,
    pointer: toPointer(at),
  });
  const params = error.params as Record<string, unknown>;
  const shown = (value: unknown) => (typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value));

  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const parent = error.parentSchema as JsonSchema | undefined;
      const allowed = Object.keys(parent?.properties ?? {});
      const hint = suggestKey(key, allowed, pipelineSchema(), path);
      return issue(`unknown key "${key}" in ${where}${hint}`, [...path, key], 'key');
    }
    case 'required': {
      const missing = String(params.missingProperty);
      return issue(`${where} is missing the required key "${missing}"`, path, 'key');
    }
    case 'type': {
      const value = error.data;
      const got = value === null ? 'null (nothing)' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a mapping' : `${typeof value} ${shown(value)}`;
      return issue(`${where} must be ${article(String(params.type))}, got ${got}`);
    }
    case 'enum':
    case 'const': {
      const allowed = (params.allowedValues as unknown[] | undefined) ?? [params.allowedValue];
      return issue(`${where} must be one of ${allowed.map(shown).join(', ')}, got ${shown(error.data)}`);
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return issue(`${where} must be ${String(params.comparison)} ${String(params.limit)}, got ${shown(error.data)}`);
    case 'minLength':
      return issue(Number(params.limit) === 1 ? `${where} must not be empty` : `${where} must be at least ${String(params.limit)} characters`);
    case 'maxLength':
      return issue(`${where} must be at most ${String(params.limit)} characters`);
    case 'minItems':
      return issue(`${where} must have at least ${String(params.limit)} item${Number(params.limit) === 1 ? '' : 's'}`);
    case 'uniqueItems':
      return issue(`${where} has a duplicate item (items ${String(params.j)} and ${String(params.i)})`);
    case 'pattern':
      return issue(patternMessage(path, where, shown(error.data), String(params.pattern)));
    case 'minProperties':
    case 'maxProperties':
      return exclusiveKinds(error, path, where, issue);
    case 'oneOf':
      return oneOfMessage(error, path, where, issue);
    default:
      return issue(`${where} ${error.message ?? 'is invalid'}`);
  }
}

type MakeIssue = (message: string, at?: string[], target?: 'key' | 'value') => ConfigIssue;

function exclusiveKinds(error: ErrorObject, path: string[], where: string, issue: MakeIssue): ConfigIssue {
  const parent = error.parentSchema as JsonSchema;
  const kinds = Object.keys(parent.properties ?? {});
  const present = Object.keys((error.data ?? {}) as object);
  const choice = orList(kinds);
  if (present.length === 0) return issue(`${where} needs one of ${choice}`, path, 'key');
  return issue(`${where} must have exactly one of ${choice}, found ${present.join(' and ')}`, [...path, present[1] as string], 'key');
}

function oneOfMessage(error: ErrorObject, path: string[], where: string, issue: MakeIssue): ConfigIssue {
  const parent = error.parentSchema as JsonSchema;
  const kinds = (parent.oneOf ?? []).flatMap((branch) => branch.required ?? []);
  const data = (error.data ?? {}) as Record<string, unknown>;
  const present = kinds.filter((kind) => kind in data);
  if (present.length > 1) return issue(`${where} must have exactly one of ${orList(kinds)}, found ${present.join(' and ')}`, [...path, present[1] as string], 'key');
  return issue(`${where} needs one of ${orList(kinds)}`, path, 'key');
}

function patternMessage(path: string[], where: string, value: string, pattern: string): string {
  const last = path[path.length - 1];
  if (path.length === 1 && last === 'name') return `name ${value} must be lowercase letters, digits, "-" and "_", starting with a letter or digit`;
  if (last === 'module') return `${where} ${value} must name a .ts, .mts, .js or .mjs file`;
  if (pattern === '^rediss?://') return `${where} ${value} must start with redis:// or rediss://`;
  if (pattern === '^[^\\s]+$') return `${where} ${value} must not contain spaces`;
  return `${where} ${value} must match the pattern ${pattern}`;
}

function article(type: string): string {
  const names: Record<string, string> = { integer: 'an integer', object: 'a mapping', array: 'a list', string: 'a string', number: 'a number', boolean: 'true or false' };
  return names[type] ?? type;
}

function orList(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
