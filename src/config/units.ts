import { dotted, toPointer, type ConfigIssue } from './errors.ts';
import { schemaAt } from './coerce.ts';
import type { JsonSchema } from './schema.ts';
import type { PositionedDocument } from './yaml-document.ts';

/**
 * Below these, a `*_ms` value is more likely seconds than milliseconds (Python Pythia and redis-py
 * count seconds): `processing_timeout_ms: 30` is a 30 ms timeout nobody means. Each threshold is
 * the smallest value a deliberate setting of that key plausibly has; keys not listed use DEFAULT.
 */
const SECONDS_BELOW: Record<string, number> = {
  socket_timeout_ms: 100,
  connection_timeout_ms: 500,
  heartbeat_ttl_ms: 1000,
  claim_idle_ms: 1000,
  processing_timeout_ms: 100,
  retry_max_delay_ms: 100,
  reset_timeout_ms: 100,
  recovery_interval_ms: 100,
  claim_interval_ms: 100,
  interval_ms: 100,
  grace_period_ms: 100,
  retry_delay_ms: 10,
  block_timeout_ms: 10,
};
const DEFAULT_SECONDS_BELOW = 10;

export function secondsThreshold(key: string): number {
  return SECONDS_BELOW[key] ?? DEFAULT_SECONDS_BELOW;
}

/** A value in a `*_ms` key that looks like seconds: a fraction, or positive and below the key's threshold. */
export function looksLikeSeconds(key: string, value: unknown): value is number {
  if (!key.endsWith('_ms') || typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return false;
  return !Number.isInteger(value) || value < secondsThreshold(key);
}

/** `— milliseconds; did you mean 1000?` for a value that looks like seconds, else ''. */
export function secondsHint(key: string, value: unknown): string {
  if (!looksLikeSeconds(key, value)) return '';
  return ` — milliseconds; did you mean ${Math.round(value * 1000)}?`;
}

/** The number as the file spells it (`1.0` stays `1.0`), when the position holds a plain scalar. */
function asWritten(text: string | undefined, at: { line: number; col: number }, value: number): string {
  const line = text?.split('\n')[at.line - 1];
  const token = line?.slice(at.col - 1).match(/^[-+]?[0-9][0-9_.eE+-]*/)?.[0];
  return token !== undefined && Number(token.replace(/_/g, '')) === value ? token : String(value);
}

/**
 * Warnings for values the user wrote (before defaults) in `*_ms` keys that look like seconds. Values
 * the schema rejects anyway (fractions, below a minimum) get the same hint in their error instead.
 */
export function checkUnits(data: unknown, schema: JsonSchema, doc: PositionedDocument, text?: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const visit = (value: unknown, path: string[]) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
    for (const [key, child] of Object.entries(value)) {
      const here = [...path, key];
      if (looksLikeSeconds(key, child)) {
        const node = schemaAt(schema, here) as JsonSchema | undefined;
        const minimum = typeof node?.minimum === 'number' ? node.minimum : 0;
        if (node?.type !== 'integer' || !Number.isInteger(child) || child < minimum) continue;
        const at = doc.locate(here);
        const shown = asWritten(text, at, child);
        issues.push({
          file: doc.file,
          ...at,
          severity: 'warning',
          message: `${dotted(here)}: ${shown}${secondsHint(key, child)} (a value below ${secondsThreshold(key)} looks like seconds)`,
          pointer: toPointer(here),
        });
      } else {
        visit(child, here);
      }
    }
  };
  visit(data, []);
  return issues;
}
