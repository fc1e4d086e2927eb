import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { ConfigIssue } from './errors.ts';

/** A parsed YAML file that remembers where every key and value came from. */
export interface PositionedDocument {
  file: string;
  data: unknown;
  /** Line and column of the key (`target: 'key'`) or value at a path; falls back to the nearest ancestor. */
  locate(path: readonly (string | number)[], target?: 'key' | 'value'): { line: number; col: number };
}

export type ParseResult = { ok: true; doc: PositionedDocument } | { ok: false; issues: ConfigIssue[] };

export function parsePositioned(file: string, text: string): ParseResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  const at = (offset: number) => {
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, col: pos.col };
  };

  const issues: ConfigIssue[] = doc.errors.map((err) => {
    const pos = err.linePos?.[0] ?? at(err.pos[0]);
    return { file, line: pos.line, col: pos.col, message: yamlMessage(err.code, err.message) };
  });
  if (issues.length > 0) return { ok: false, issues };

  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    return { ok: false, issues: [{ file, line: 1, col: 1, message: 'the file is empty: a pipeline needs at least name, source and handler' }] };
  }
  if (!isMap(doc.contents)) {
    const pos = at(doc.contents.range?.[0] ?? 0);
    const kind = isSeq(doc.contents) ? 'a list' : 'a single value';
    return { ok: false, issues: [{ file, ...pos, message: `the top level must be a mapping of keys (name:, source:, handler: ...), not ${kind}` }] };
  }

  const data = doc.toJS({ maxAliasCount: 100 }) as unknown;
  return { ok: true, doc: { file, data, locate: (path, target = 'value') => locateIn(doc, path, target, at) } };
}

function locateIn(doc: Document, path: readonly (string | number)[], target: 'key' | 'value', at: (offset: number) => { line: number; col: number }) {
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

function yamlMessage(code: string, message: string): string {
  const first = message.split('\n')[0] ?? message;
  const clean = first.replace(/ at line \d+, column \d+:?$/, '');
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'duplicate key: each key may appear once in a mapping';
    case 'TAB_AS_INDENT':
      return 'tab used for indentation: YAML indents with spaces only';
    default:
      return `YAML syntax error: ${clean}`;
  }
}
