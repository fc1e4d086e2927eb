import {
  checkTogether,
  expandPipelinePaths,
  formatIssue,
  loadPipelineFile,
  type ConfigIssue,
  type LoadedPipeline,
} from '../config/index.ts';
import { escapeControl } from '../config/echo.ts';
import { describePipeline } from './describe.ts';
import { EXIT } from './exit-codes.ts';

export interface ValidateOptions {
  format: 'text' | 'json';
  /** Warnings are errors. */
  strict?: boolean;
}

/** `pythia validate FILE|DIR...`: exit 0 when all are valid, 1 when any is invalid or missing, 2 for usage errors. */
export async function validateCommand(paths: string[], options: ValidateOptions): Promise<number> {
  const { files, missing } = expandPipelinePaths(paths);
  if (missing.length > 0 || files.length === 0) {
    const what =
      missing.length > 0 ? `no such file or directory: ${missing.join(', ')}` : `no pipeline files (*.yml, *.yaml) in ${paths.join(', ')}`;
    process.stderr.write(`pythia validate: ${escapeControl(what)}\n`);
    return EXIT.failure;
  }
  const results: { file: string; issues: ConfigIssue[]; pipeline?: LoadedPipeline }[] = [];
  for (const file of files) {
    const result = await loadPipelineFile(file, { strict: options.strict, isolateModules: true });
    results.push(result.ok ? { file, issues: [], pipeline: result.pipeline } : { file, issues: result.issues });
  }
  const warningsOf = (r: (typeof results)[number]) => r.pipeline?.warnings ?? [];
  const loaded = results.flatMap((r) => (r.pipeline ? [r.pipeline] : []));
  for (const issue of checkTogether(loaded)) results.find((r) => r.file === issue.file)?.issues.push(issue);
  const valid = results.every((r) => r.issues.length === 0);

  if (options.format === 'json') {
    const files = results.map((r) => ({
      file: r.file,
      valid: r.issues.length === 0,
      issues: r.issues.length > 0 ? r.issues : warningsOf(r),
      notes: r.pipeline && r.issues.length === 0 ? describePipeline(r.pipeline).notes : [],
      warnings: r.pipeline && r.issues.length === 0 ? describePipeline(r.pipeline).warnings : [],
    }));
    process.stdout.write(JSON.stringify({ valid, files }, null, 2) + '\n');
    return valid ? 0 : 1;
  }
  for (const result of results) {
    if (result.issues.length > 0) {
      for (const issue of result.issues) process.stdout.write(formatIssue(issue) + '\n');
      continue;
    }
    for (const warning of warningsOf(result)) process.stdout.write(formatIssue(warning) + '\n');
    // Keys, channel names and paths in the summary come from the file: shown, never interpreted by the terminal.
    const { summary, notes, warnings } = describePipeline(result.pipeline as LoadedPipeline);
    process.stdout.write(`${escapeControl(result.file)}: valid: ${escapeControl(summary)}\n`);
    for (const note of notes) process.stdout.write(`${escapeControl(result.file)}: note: ${escapeControl(note)}\n`);
    for (const warning of warnings) process.stdout.write(`${escapeControl(result.file)}: warning: ${escapeControl(warning)}\n`);
  }
  const bad = results.filter((r) => r.issues.length > 0).length;
  process.stdout.write(
    bad === 0
      ? `${results.length} pipeline${results.length === 1 ? '' : 's'} valid\n`
      : `${bad} of ${results.length} pipeline files invalid\n`,
  );
  return valid ? 0 : 1;
}
