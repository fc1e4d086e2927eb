import { formatIssue, PipelineConfigError } from '../config/index.ts';
import { main } from './main.ts';

// The process entry point: a bad file prints FILE:LINE:COL lines, never a stack trace.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // A failed command ends even when something it loaded keeps the event loop busy (see below).
    if (code !== 0) setTimeout(() => process.exit(), 1000).unref();
  },
  (error: unknown) => {
    // A failed command ends even when something it loaded keeps the event loop busy (a handler
    // module whose top level never settles, or that started a timer): after a moment to flush output.
    setTimeout(() => process.exit(), 1000).unref();
    if (error instanceof PipelineConfigError) {
      for (const issue of error.issues) process.stderr.write(formatIssue(issue) + '\n');
      process.exitCode = 1;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`pythia: ${message}\n`);
    if (process.env.PYTHIA_DEBUG) process.stderr.write(`${(error as Error).stack ?? ''}\n`);
    process.exitCode = 1;
  },
);
