// The child side of probeHandlerModule: imports one handler module, checks its export, and reports
// through the IPC channel. Whatever the module does at import (exit, hang, crash) happens here.
import { pathToFileURL } from 'node:url';
import { describeImportError, HandlerModuleError, pickHandlerFunction } from './handler-module.ts';

const [file, exportName] = process.argv.slice(2) as [string, string];

function report(result: { ok: true } | { ok: false; message: string }): void {
  process.send?.(result, () => process.exit(0));
}

// The parent's clock starts now: Node's and the TypeScript loader's start-up are not the module's time.
process.send?.({ started: true });
try {
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  pickHandlerFunction(mod, exportName);
  report({ ok: true });
} catch (error) {
  report({
    ok: false,
    message: error instanceof HandlerModuleError ? error.message : `handler module could not be loaded: ${describeImportError(error)}`,
  });
}
