import { echoJson } from './echo.ts';
import type { IssueReport } from './errors.ts';
import { parseOrderingKey } from './ordering-key.ts';
import type { PipelineConfig } from './pipeline.types.ts';

/**
 * Flow control (rate_limit, ordering; see docs/flow-control.md): what the schema cannot say. The
 * schema already holds rate_limit.max and per_ms to positive integers.
 */
export function checkFlowControl(config: PipelineConfig, report: IssueReport): void {
  const ordering = config.ordering;
  if (!ordering) return;
  const parsed = parseOrderingKey(ordering.key);
  if (!parsed.ok) {
    report(`ordering.key ${echoJson(ordering.key)} ${parsed.error}`, ['ordering', 'key']);
    return;
  }
  if (parsed.spec.kind === 'pointer' && config.message.format !== 'json')
    report(
      `ordering.key ${echoJson(ordering.key)} is a JSON pointer into the body, which needs message.format: json (the format is ${config.message.format}); use header:NAME instead`,
      ['ordering', 'key'],
    );
}
