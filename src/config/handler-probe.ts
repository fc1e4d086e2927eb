import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { echo } from './echo.ts';
import { HandlerModuleError, handlerLoadTimeoutMs } from './handler-module.ts';

const sourceMode = import.meta.url.endsWith('.ts');

/**
 * Checks a handler module the way `validate` must: in a child process with a time limit, so that
 * what the module does at import (process.exit(0), a top level that never settles, a crash, output)
 * becomes this module's error and never ends or hangs the validating process. Throws
 * HandlerModuleError with the reason; resolves when the module loads and exports a function.
 */
/** How long the probe child may take to start (Node, the TypeScript loader) before the import begins. */
const PROBE_STARTUP_MS = 30_000;

export async function probeHandlerModule(absolutePath: string, exportName: string, timeoutMs = handlerLoadTimeoutMs()): Promise<void> {
  const entry = new URL(`./handler-probe-entry.${sourceMode ? 'ts' : 'js'}`, import.meta.url);
  // tsx's loader from the start (not registered later), so a .ts syntax error keeps its line and column.
  const needsTsx = sourceMode || /\.(m?ts)$/.test(absolutePath);
  const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const args = [...(needsTsx ? ['--import', tsxLoader] : []), entry.pathname, absolutePath, exportName];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: process.env });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString('utf8');
  });
  const outcome = await new Promise<{ ok: true } | { ok: false; message: string }>((resolve) => {
    let answer: { ok: true } | { ok: false; message: string } | undefined;
    const giveUp = () => {
      child.kill('SIGKILL');
      resolve({
        ok: false,
        message: `handler module did not finish loading within ${timeoutMs} ms (its top level never settles?); PYTHIA_HANDLER_LOAD_TIMEOUT_MS sets the limit`,
      });
    };
    // The limit counts from the child's "started" (the import itself); its start-up gets a cap of its own.
    let timer = setTimeout(giveUp, timeoutMs + PROBE_STARTUP_MS);
    child.on('message', (message: { started: true } | { ok: true } | { ok: false; message: string }) => {
      if ('started' in message) {
        clearTimeout(timer);
        timer = setTimeout(giveUp, timeoutMs);
      } else answer = message;
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, message: `handler module could not be checked: ${error.message}` });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (answer) return resolve(answer);
      const last =
        stderr
          .trim()
          .split('\n')
          .filter((line) => !/^\s+at /.test(line) && line.trim() !== '')
          .pop() ?? '';
      // 13: Node's exit code for a top-level await that can never settle (nothing else left to run).
      const how = signal
        ? `was killed by ${signal}`
        : code === 13
          ? 'has a top-level await that never settles'
          : `exited with code ${code ?? '?'}`;
      resolve({
        ok: false,
        message: `handler module ended the process while being imported: it ${how}${last ? ` (${echo(last, 200)})` : ''}`,
      });
    });
  });
  if (!outcome.ok) throw new HandlerModuleError(outcome.message);
}
