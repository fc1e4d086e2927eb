import { echo, escapeControl } from './echo.ts';

/** A problem found in a pipeline file, located at a line and column (both 1-based). */
export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  message: string;
  /** JSON pointer of the offending field, when the problem is about one field. */
  pointer?: string;
  /** Absent means an error. A warning is printed and does not fail, unless the command runs with --strict. */
  severity?: 'error' | 'warning';
}

export const isWarning = (issue: ConfigIssue): boolean => issue.severity === 'warning';

/**
 * `FILE:LINE:COL: [warning: ]message (at /json/pointer)`: the one format every command prints. Messages
 * shorten what they echo; the pointer (which holds the keys as written) and the file name are shortened
 * and their control characters escaped here, so a line can never be forged.
 */
export function formatIssue(issue: ConfigIssue): string {
  const where = issue.pointer ? ` (at ${echo(issue.pointer, 160)})` : '';
  return `${echo(issue.file, 400)}:${issue.line}:${issue.col}: ${isWarning(issue) ? 'warning: ' : ''}${escapeControl(issue.message)}${where}`;
}

/** Thrown by APIs that need a valid pipeline; carries every issue found, never a stack for the user. */
export class PipelineConfigError extends Error {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'PipelineConfigError';
    this.issues = issues;
  }
}

export function toPointer(path: readonly (string | number)[]): string {
  return path.map((seg) => '/' + String(seg).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

export function fromPointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** A dotted path for messages: /source/list/key → source.list.key */
export function dotted(path: readonly (string | number)[]): string {
  return path.length === 0 ? 'the top level' : path.join('.');
}

/** How a check reports a problem: the message and the path of the field it is about (its key or its value is located). */
export type IssueReport = (message: string, at: (string | number)[], target?: 'key' | 'value') => void;
