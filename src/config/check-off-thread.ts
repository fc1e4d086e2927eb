import { Worker } from 'node:worker_threads';
import type { ConfigIssue } from './errors.ts';

/** How long a file may take to check, and how much heap it may use, before it is rejected. */
const CHECK_TIMEOUT_MS = 30_000;
const CHECK_HEAP_MB = 512;

const sourceMode = import.meta.url.endsWith('.ts');

/**
 * Checks a pipeline file (read, parse, schema, meaning, without importing its handler) in a worker
 * thread, so that a large or hostile file never blocks the event loop of a process that is running
 * pipelines (`run --watch`). The thread has a heap cap and a time limit; either ends as an issue.
 */
export function checkPipelineOffThread(file: string, env: NodeJS.ProcessEnv = process.env): Promise<ConfigIssue[]> {
  const entry = new URL(`./check-thread-entry.${sourceMode ? 'ts' : 'js'}`, import.meta.url);
  // Running from the TypeScript sources, the thread registers the same loader as this process first.
  const code = sourceMode
    ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`
    : `import(${JSON.stringify(entry.href)})`;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (issues: ConfigIssue[]) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      resolve(issues);
    };
    const failed = (why: string) => finish([{ file, line: 1, col: 1, message: why }]);
    const worker = new Worker(code, {
      eval: true,
      workerData: { file, env },
      resourceLimits: { maxOldGenerationSizeMb: CHECK_HEAP_MB },
      stdout: true,
      stderr: true,
    });
    const timer = setTimeout(
      () => failed(`checking the file took more than ${CHECK_TIMEOUT_MS / 1000} s: it is rejected`),
      CHECK_TIMEOUT_MS,
    );
    worker.on('message', (issues: ConfigIssue[]) => finish(issues));
    worker.on('error', (error: Error) =>
      failed(
        /heap|memory/i.test(error.message)
          ? `checking the file needed more than ${CHECK_HEAP_MB} MB: it is rejected`
          : `the file could not be checked: ${error.message.split('\n')[0] ?? ''}`,
      ),
    );
    worker.on('exit', () => failed('the file could not be checked: the checking thread ended early'));
  });
}
