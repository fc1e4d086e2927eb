import type { ErrorObject, ValidateFunction } from 'ajv';
import { echo, echoJson } from './echo.ts';
import type { ConfigIssue } from './errors.ts';
import { dotted, fromPointer, toPointer } from './errors.ts';
import { loadPipelineValidator } from './pipeline-validator.ts';
import { pipelineSchema, type JsonSchema } from './schema.ts';
import { isSecretPath, REDACTED, redactText } from './redact.ts';
import { placesOf, suggestKey, type SuggestContext } from './suggest.ts';
import { secondsHint } from './units.ts';
import type { PositionedDocument } from './yaml-document.ts';

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  compiled ??= loadPipelineValidator();
  return compiled;
}

/** Past this many problems, a file is reported by its first ones (each is located and costs a lookup). */
const MAX_ISSUES = 50;

/**
 * Validates and fills defaults in place; returns the problems located in the file. `secrets` are
 * the file's credentials: a value echoed in a message is redacted before it is shortened.
 */
export function checkAgainstSchema(data: unknown, doc: PositionedDocument, secrets: readonly string[] = []): ConfigIssue[] {
  const validate = validator();
  if (validate(data)) return [];
  const errors = validate.errors ?? [];
  const sourceKind = sourceKindOf(data);
  const context = (error: ErrorObject, key: string): SuggestContext => ({
    sourceKind,
    value: (error.data as Record<string, unknown> | undefined)?.[key],
  });
  // A required key that is misspelt or misplaced is reported once, as the unknown key with its hint.
  const explained = new Set<string>();
  for (const error of errors.slice(0, MAX_ISSUES * 4)) {
    if (error.keyword !== 'additionalProperties') continue;
    const key = String((error.params as Record<string, unknown>).additionalProperty);
    const parent = error.parentSchema as JsonSchema | undefined;
    const hint = suggestKey(
      key,
      Object.keys(parent?.properties ?? {}),
      pipelineSchema(),
      fromPointer(error.instancePath),
      context(error, key),
    );
    for (const target of hintedPointers(key, hint, error.instancePath)) explained.add(target);
  }
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    if (issues.length >= MAX_ISSUES) {
      issues.push({
        file: doc.file,
        line: 1,
        col: 1,
        message: `more than ${MAX_ISSUES} problems: only the first ${MAX_ISSUES} are listed`,
      });
      break;
    }
    if (
      error.keyword === 'required' &&
      explained.has(`${error.instancePath}/${String((error.params as Record<string, unknown>).missingProperty)}`)
    )
      continue;
    const issue = describe(error, doc, context, secrets);
    if (!issue) continue;
    const id = `${issue.line}:${issue.col}:${issue.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    issues.push(issue);
  }
  return issues.sort((a, b) => a.line - b.line || a.col - b.col);
}

/** Pointers of the keys an unknown key stands for: the one it was misspelt from, or where it belongs when it is misplaced. */
function hintedPointers(key: string, hint: string, here: string): string[] {
  const meant = /did you mean "([^"]+)"/.exec(hint)?.[1];
  if (meant !== undefined) return [`${here}/${meant}`];
  if (!hint.includes('belongs at')) return [];
  return placesOf(key.toLowerCase().replace(/-/g, '_'), pipelineSchema()).map((dotted) => '/' + dotted.split('.').join('/'));
}

/** The one source kind the file names (list, stream or channel), if it names exactly one. */
function sourceKindOf(data: unknown): string | undefined {
  const source = (data as Record<string, unknown> | null)?.source;
  if (source === null || typeof source !== 'object') return undefined;
  const kinds = Object.keys(source).filter((k) => ['list', 'stream', 'channel'].includes(k));
  return kinds.length === 1 ? kinds[0] : undefined;
}

function describe(
  error: ErrorObject,
  doc: PositionedDocument,
  context: (error: ErrorObject, key: string) => SuggestContext,
  secrets: readonly string[],
): ConfigIssue | null {
  // Branch errors inside oneOf are summarised by the oneOf error itself.
  if (error.schemaPath.includes('/oneOf/')) return null;
  const path = fromPointer(error.instancePath);
  const where = echo(dotted(path), 160);
  const issue = (message: string, at: string[] = path, target: 'key' | 'value' = 'value'): ConfigIssue => ({
    file: doc.file,
    ...doc.locate(at, target),
    message,
    pointer: toPointer(at),
  });
  const params = error.params as Record<string, unknown>;
  const secret = isSecretPath(path);
  const shown = (value: unknown) =>
    secret ? REDACTED : typeof value === 'string' ? echoJson(redactText(value, secrets)) : echoJson(value);

  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const parent = error.parentSchema as JsonSchema | undefined;
      const allowed = Object.keys(parent?.properties ?? {});
      const hint = suggestKey(key, allowed, pipelineSchema(), path, context(error, key));
      return issue(`unknown key ${echoJson(key)} in ${where}${hint}`, [...path, key], 'key');
    }
    case 'required': {
      const missing = String(params.missingProperty);
      const example = path.length === 0 ? TOP_LEVEL_EXAMPLES[missing] : undefined;
      return issue(`${where} is missing the required key "${missing}"${example ? ` (e.g. ${example})` : ''}`, path, 'key');
    }
    case 'type': {
      const value = error.data;
      const expected = article(String(params.type));
      const own = error.parentSchema as JsonSchema | undefined;
      if (value === null) {
        const kinds = exclusiveKindsOf(own);
        const need = kinds.length > 0 ? `: it needs one of ${orList(kinds)}` : `, but it must be ${expected}`;
        return issue(`${where} has no value${need}`, path, 'key');
      }
      const got = Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a mapping' : `${typeof value} ${shown(value)}`;
      let hint = '';
      if (params.type === 'object' && typeof value !== 'object' && own?.required?.includes('key'))
        hint = `; write ${path[path.length - 1]}: {key: ${shown(value)}}`;
      else if (params.type === 'array' && typeof value === 'string' && path[path.length - 1] === 'command')
        hint = `; write it as a list, e.g. [${value
          .split(/\s+/, 8)
          .filter(Boolean)
          .map((w) => echoJson(w, 40))
          .join(', ')}] (it never runs through a shell)`;
      else if (params.type === 'integer' && typeof value === 'string' && /^[-+]?\d+$/.test(value.trim())) hint = ': remove the quotes';
      else if (params.type === 'boolean' && typeof value === 'string' && /^(yes|no|on|off|y|n)$/i.test(value))
        hint = ': YAML 1.2 reads yes/no/on/off as strings; write true or false';
      else if (params.type === 'integer' && typeof value === 'number') hint = secondsHint(String(path[path.length - 1]), value);
      return issue(`${where} must be ${expected}, got ${got}${hint}`);
    }
    case 'enum':
    case 'const': {
      const allowed = (params.allowedValues as unknown[] | undefined) ?? [params.allowedValue];
      if (path.length === 1 && path[0] === 'version')
        return issue(
          `version ${shown(error.data)} is not supported: this Pythia reads version ${allowed.map(shown).join(', ')} pipeline files`,
        );
      if (allowed.length === 1) return issue(`${where} must be ${shown(allowed[0])}, got ${shown(error.data)}`);
      return issue(`${where} must be one of ${allowed.map(shown).join(', ')}, got ${shown(error.data)}`);
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return issue(
        `${where} must be ${String(params.comparison)} ${String(params.limit)}, got ${shown(error.data)}${secondsHint(String(path[path.length - 1]), error.data)}`,
      );
    case 'minLength':
      return issue(
        Number(params.limit) === 1 ? `${where} must not be empty` : `${where} must be at least ${String(params.limit)} characters`,
      );
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
    case 'not':
      return atMostOneMessage(error, path, where, issue);
    default:
      return issue(`${where} ${error.message ?? 'is invalid'}`);
  }
}

const TOP_LEVEL_EXAMPLES: Record<string, string> = {
  name: 'name: orders',
  source: 'source: {list: {key: task-queue}}',
  handler: 'handler: {module: ./handlers/orders.ts}',
};

type MakeIssue = (message: string, at?: string[], target?: 'key' | 'value') => ConfigIssue;

/** The kinds of an exactly-one-of mapping (source, handler, dead_letter, output), or none. */
function exclusiveKindsOf(schema: JsonSchema | undefined): string[] {
  if (!schema) return [];
  if (schema.oneOf) return schema.oneOf.flatMap((branch) => branch.required ?? []);
  if (schema.maxProperties === 1) return Object.keys(schema.properties ?? {});
  return [];
}

function exclusiveKinds(error: ErrorObject, path: string[], where: string, issue: MakeIssue): ConfigIssue | null {
  const parent = error.parentSchema as JsonSchema;
  const kinds = Object.keys(parent.properties ?? {});
  // Unknown keys are reported on their own (with a hint); they are not kinds.
  const present = Object.keys((error.data ?? {}) as object).filter((key) => kinds.includes(key));
  const choice = orList(kinds);
  if (error.keyword === 'maxProperties' && present.length < 2) return null;
  if (present.length === 0) return issue(`${where} needs one of ${choice}`, path, 'key');
  return issue(`${where} must have exactly one of ${choice}, found ${present.join(' and ')}`, [...path, present[1] as string], 'key');
}

/** `not: {anyOf: [{required: [a, b]}, ...]}`: keys of which at most one may be given (output: list, stream, channel). */
function atMostOneMessage(error: ErrorObject, path: string[], where: string, issue: MakeIssue): ConfigIssue {
  const pairs = (((error.parentSchema as JsonSchema).not as JsonSchema | undefined)?.anyOf ?? []).map((branch) => branch.required ?? []);
  const kinds = [...new Set(pairs.flat())];
  if (kinds.length === 0) return issue(`${where} ${error.message ?? 'is invalid'}`);
  const data = typeof error.data === 'object' && error.data !== null ? (error.data as object) : {};
  const present = kinds.filter((kind) => kind in data);
  return issue(`${where} must have at most one of ${orList(kinds)}, found ${present.join(' and ')}`, [...path, present[1] ?? ''], 'key');
}

function oneOfMessage(error: ErrorObject, path: string[], where: string, issue: MakeIssue): ConfigIssue {
  const parent = error.parentSchema as JsonSchema;
  const kinds = (parent.oneOf ?? []).flatMap((branch) => branch.required ?? []);
  // The value may be a scalar or a list (handler: 0): only a mapping has kinds present.
  const data =
    error.data !== null && typeof error.data === 'object' && !Array.isArray(error.data) ? (error.data as Record<string, unknown>) : {};
  const present = kinds.filter((kind) => kind in data);
  if (present.length > 1)
    return issue(
      `${where} must have exactly one of ${orList(kinds)}, found ${present.join(' and ')}`,
      [...path, present[1] as string],
      'key',
    );
  // A value of one of several forms (handler.env_inherit: a word or a list), not a choice of keys.
  if (kinds.length === 0) return issue(`${where} must be ${orList((parent.oneOf ?? []).map(formOf))}`);
  return issue(`${where} needs one of ${orList(kinds)}`, path, 'key');
}

/** One branch of a oneOf of forms, in words: its allowed values, or "a list of ...". */
function formOf(branch: JsonSchema): string {
  if (branch.enum) return (branch.enum as unknown[]).map((v) => JSON.stringify(v)).join(', ');
  if (branch.type === 'array') return `a list of ${branch.items?.pattern === '^[A-Za-z_][A-Za-z0-9_]*$' ? 'variable names' : 'values'}`;
  return article(String(branch.type));
}

function patternMessage(path: string[], where: string, value: string, pattern: string): string {
  const last = path[path.length - 1];
  if (path.length === 1 && last === 'name')
    return `name ${value} must be lowercase letters, digits, "-" and "_", starting with a letter or digit`;
  if (last === 'module') return `${where} ${value} must name a .ts, .mts, .cts, .js, .mjs or .cjs file`;
  if (pattern === '^rediss?://') return `${where} ${value} must start with redis:// or rediss://`;
  if (pattern === '^[^\\s]+$') return `${where} ${value} must not contain spaces`;
  if (last === 'start_id')
    return `${where} ${value} must be "$" (new entries only), "0" (the whole stream) or an entry id such as "1700000000000-0"`;
  if (last === 'export') return `${where} ${value} must be a JavaScript identifier (the name of an exported function)`;
  if (last === 'path') return `${where} ${value} must start with "/"`;
  return `${where} ${value} must match the pattern ${pattern}`;
}

function article(type: string): string {
  const names: Record<string, string> = {
    integer: 'an integer',
    object: 'a mapping',
    array: 'a list',
    string: 'a string',
    number: 'a number',
    boolean: 'true or false',
  };
  return names[type] ?? type;
}

function orList(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
