import { isMap, isPair, isScalar, isSeq, LineCounter, Parser, parseDocument, visit, type Document, type Node, type YAMLError } from 'yaml';
import { echo, echoJson } from './echo.ts';
import type { ConfigIssue } from './errors.ts';

/** A parsed YAML file that remembers where every key and value came from. */
export interface PositionedDocument {
  file: string;
  data: unknown;
  /** Line and column of the key (`target: 'key'`) or value at a path; falls back to the nearest ancestor. */
  locate(path: readonly (string | number)[], target?: 'key' | 'value'): { line: number; col: number };
}

export type ParseResult = { ok: true; doc: PositionedDocument } | { ok: false; issues: ConfigIssue[] };

/** A file with thousands of syntax errors reports the first ones: the rest are usually the same mistake. */
const MAX_YAML_ISSUES = 50;

/** Aliases may expand to at most this many nodes (a guard against "billion laughs" files). */
const MAX_ALIAS_COUNT = 100;

export function parsePositioned(file: string, text: string): ParseResult {
  const lineCounter = new LineCounter();
  // uniqueKeys off: the yaml package compares each key with every earlier one (quadratic: 40k keys
  // took 10 s); duplicateKeys below does the same check with one hash set per mapping.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false, strict: true });
  const at = (offset: number) => {
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, col: pos.col };
  };

  // Unknown tags are only warnings to the yaml package; here they would silently change a value.
  const problems = [...doc.errors, ...doc.warnings.filter((w) => w.code === 'TAG_RESOLVE_FAILED')];
  const duplicates = doc.errors.length === 0 ? duplicateKeys(doc, text) : [];
  if (problems.length > 0 || duplicates.length > 0) {
    const issues: ConfigIssue[] = [];
    const seen = new Set<string>();
    const explained = [
      ...problems.slice(0, MAX_YAML_ISSUES).map((err) => explainYamlError(err, text)),
      ...duplicates.slice(0, MAX_YAML_ISSUES),
    ];
    for (const { offset, message } of explained) {
      const issue = { file, ...at(offset), message };
      const id = `${issue.line}:${issue.col}`;
      if (seen.has(id)) continue; // one YAML mistake often yields several errors at one place
      seen.add(id);
      issues.push(issue);
    }
    return { ok: false, issues: issues.sort((a, b) => a.line - b.line || a.col - b.col) };
  }

  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    const onlyComments = text.trim() !== '';
    const message = onlyComments
      ? 'the file has only comments: a pipeline needs at least name, source and handler'
      : 'the file is empty: a pipeline needs at least name, source and handler';
    return { ok: false, issues: [{ file, line: 1, col: 1, message }] };
  }
  if (!isMap(doc.contents)) {
    const pos = at(doc.contents.range?.[0] ?? 0);
    const kind = isSeq(doc.contents) ? 'a list' : 'a single value';
    const hint = isSeq(doc.contents) ? ' (one file is one pipeline: remove the leading "- ")' : '';
    return {
      ok: false,
      issues: [{ file, ...pos, message: `the top level must be a mapping of keys (name:, source:, handler: ...), not ${kind}${hint}` }],
    };
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
  } catch (error) {
    return { ok: false, issues: [aliasIssue(file, doc, at, error)] };
  }
  return { ok: true, doc: { file, data, locate: (path, target = 'value') => locateIn(doc, path, target, at) } };
}

function locateIn(
  doc: Document,
  path: readonly (string | number)[],
  target: 'key' | 'value',
  at: (offset: number) => { line: number; col: number },
) {
  let node: unknown = doc.contents;
  let best: Node | null = doc.contents as Node;
  let keyNode: Node | null = null;
  for (const seg of path) {
    keyNode = null;
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(seg));
      if (!pair) break;
      keyNode = pair.key as Node;
      node = pair.value;
      best = (pair.value as Node | null) ?? keyNode;
    } else if (isSeq(node)) {
      const item = node.items[Number(seg)];
      if (item === undefined) break;
      node = item;
      best = item as Node;
    } else {
      break;
    }
  }
  const chosen = target === 'key' && keyNode ? keyNode : best;
  return at(chosen?.range?.[0] ?? 0);
}

/** The place and wording of a YAML error: at the mistake itself (an opening quote, an unclosed bracket), in plain words. */
function explainYamlError(err: YAMLError, text: string): { offset: number; message: string } {
  const offset = err.pos[0];
  const first = err.message.split('\n')[0] ?? err.message;
  const clean = first.replace(/ at line \d+, column \d+:?$/, '');
  switch (err.code) {
    case 'TAB_AS_INDENT':
      return { offset, message: 'tab used for indentation: YAML indents with spaces only' };
    case 'MULTIPLE_DOCS':
      return {
        offset,
        message:
          'the file holds more than one YAML document (a "---" line): one file is one pipeline, so put each pipeline in its own file',
      };
    case 'TAG_RESOLVE_FAILED':
      return {
        offset,
        message: `unknown YAML tag ${echo(clean.replace(/^Unresolved tag: /, ''))}: pipeline files use plain values (write \${VAR} to take one from the environment)`,
      };
    case 'MISSING_CHAR': {
      const quote = /closing (["'])quote/.exec(clean)?.[1];
      const start = quote === undefined ? undefined : unclosedQuote(text, quote);
      if (quote !== undefined && start !== undefined)
        return { offset: start, message: `unclosed ${quote} quote: the string that starts here never ends; add the closing ${quote}` };
      break;
    }
    case 'BAD_INDENT': {
      const bracket = /end with a ([\]}])/.exec(clean)?.[1];
      const start = bracket === undefined ? undefined : unclosedFlow(text, bracket === ']' ? '[' : '{');
      if (bracket !== undefined && start !== undefined) {
        const what = bracket === ']' ? 'list' : 'mapping';
        return {
          offset: start,
          message: `unclosed ${bracket === ']' ? '[' : '{'}: the ${what} that starts here never ends; add the closing ${bracket}`,
        };
      }
      if (/same column/.test(clean))
        return {
          offset: firstNonSpace(text, offset),
          message: 'this key is not aligned with the keys above it: keys of one mapping must start at the same column',
        };
      break;
    }
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY': {
      const next = nextContentLine(text, offset);
      if (next !== undefined)
        return {
          offset: next,
          message: 'this line is indented deeper than the key above it, which already has a value: align it with that key',
        };
      break;
    }
    default:
      break;
  }
  return { offset, message: `YAML syntax error: ${echo(clean, 200)}` };
}

/** Every key that repeats an earlier key of its mapping, in one pass with a hash set per mapping. */
function duplicateKeys(doc: Document, text: string): { offset: number; message: string }[] {
  const found: { offset: number; message: string }[] = [];
  const lines = lineIndex(text);
  visit(doc, {
    Map(_, map) {
      const seen = new Map<string, number>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const key = String(pair.key.value);
        const start = pair.key.range?.[0] ?? 0;
        const first = seen.get(key);
        if (first === undefined) {
          seen.set(key, start);
          continue;
        }
        found.push({
          offset: start,
          message: `duplicate key ${echoJson(key)}: it is already set on line ${lines(first)}, and each key may appear once in a mapping`,
        });
      }
    },
  });
  return found;
}

function aliasIssue(file: string, doc: Document, at: (offset: number) => { line: number; col: number }, error: unknown): ConfigIssue {
  const aliases: { source: string; offset: number; resolved: boolean }[] = [];
  visit(doc, {
    Alias(_, node) {
      aliases.push({ source: node.source, offset: node.range?.[0] ?? 0, resolved: node.resolve(doc) !== undefined });
    },
  });
  const unresolved = aliases.find((a) => !a.resolved);
  if (unresolved)
    return {
      file,
      ...at(unresolved.offset),
      message: `unknown alias *${echo(unresolved.source)}: no anchor &${echo(unresolved.source)} is defined before it`,
    };
  const message = error instanceof Error ? error.message : String(error);
  if (/alias count/i.test(message)) {
    const first = aliases[0];
    return {
      file,
      ...at(first?.offset ?? 0),
      message: `YAML aliases expand to too many values (more than ${MAX_ALIAS_COUNT} per alias): write the values out instead`,
    };
  }
  return { file, ...at(aliases[0]?.offset ?? 0), message: `YAML error: ${echo(message.split('\n')[0] ?? message, 200)}` };
}

/** Offset of a quoted scalar that has no closing quote, from the concrete syntax tree. */
function unclosedQuote(text: string, quote: string): number | undefined {
  const type = quote === '"' ? 'double-quoted-scalar' : 'single-quoted-scalar';
  return findToken(text, (token) => {
    if (token.type !== type || typeof token.source !== 'string' || typeof token.offset !== 'number') return undefined;
    const source = token.source.trimEnd();
    const closed = source.length >= 2 && source.endsWith(quote) && (quote === "'" || !/(^|[^\\])(\\\\)*\\"$/.test(source));
    return closed ? undefined : token.offset;
  });
}

/** Offset of a flow collection ([...] or {...}) that never closes. */
function unclosedFlow(text: string, open: '[' | '{'): number | undefined {
  const close = open === '[' ? ']' : '}';
  return findToken(text, (token) => {
    if (token.type !== 'flow-collection') return undefined;
    const start = token.start as { source?: string; offset?: number } | undefined;
    const end = (token.end ?? []) as { source?: string }[];
    if (start?.source !== open || end.some((t) => t.source === close)) return undefined;
    return start.offset;
  });
}

type Token = { type?: unknown; source?: unknown; offset?: unknown; start?: unknown; end?: unknown[] };

function findToken(text: string, test: (token: Token) => number | undefined): number | undefined {
  let found: number | undefined;
  const walk = (value: unknown): void => {
    if (found !== undefined || value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      for (const item of value) walk(item);
      return;
    }
    const token = value as Token;
    const hit = typeof token.type === 'string' ? test(token) : undefined;
    if (hit !== undefined) {
      found = hit;
      return;
    }
    for (const child of Object.values(value)) walk(child);
  };
  for (const token of new Parser().parse(text)) walk(token);
  return found;
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', Math.max(0, offset - 1)) + 1;
}

/** Line of an offset, by binary search over the line starts (one pass over the text to build). */
function lineIndex(text: string): (offset: number) => number {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

/** The first character that is not a space on the line of `offset`, if the offset is in the indentation. */
function firstNonSpace(text: string, offset: number): number {
  let i = lineStart(text, offset);
  while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++;
  return Math.max(i, offset);
}

/** The first non-space character of the next line after `offset` that is neither blank nor a comment. */
function nextContentLine(text: string, offset: number): number | undefined {
  let i = text.indexOf('\n', offset);
  while (i !== -1 && i < text.length) {
    const start = i + 1;
    const end = text.indexOf('\n', start) === -1 ? text.length : text.indexOf('\n', start);
    const line = text.slice(start, end);
    if (line.trim() !== '' && !line.trim().startsWith('#')) return start + (line.length - line.trimStart().length);
    i = end === text.length ? -1 : end;
  }
  return undefined;
}
