import { pathToFileURL } from 'node:url';

// Validation (semantic.ts: the export must exist and be a function) and the module runner (handlers/module.ts)
// load a handler module the same way, so it sits here, below both.

const TYPESCRIPT = /\.[mc]?tsx?$/;

type Importer = (specifier: string, parentURL: string) => Promise<unknown>;

let typeScriptImporter: Promise<Importer> | undefined;

/**
 * .ts/.mts/.cts handlers run with no build step, through tsx, which needs a hook for each module system:
 * a .ts file is ESM or CommonJS as the nearest package.json says, and with the ESM hook alone a .ts
 * file in a project without "type": "module" failed ("Cannot require() ES Module ... in a cycle").
 * The ESM hook is registered in its own namespace, so it applies only to handler imports. The CommonJS
 * hook is registered for the process: in a namespace it would load a second copy of every package a
 * CommonJS handler requires (ioredis among them, which then fails with "Cannot redefine property").
 * Registered once, the first time a TypeScript handler is imported.
 */
async function importTypeScript(): Promise<Importer> {
  typeScriptImporter ??= Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]).then(([esm, cjs]) => {
    cjs.register();
    const api = esm.register({ namespace: 'pythia-worker-handlers' });
    return (specifier, parentURL) => api.import(specifier, parentURL) as Promise<unknown>;
  });
  return typeScriptImporter;
}

/** Imports a module by absolute path: TypeScript through tsx, .js/.mjs/.cjs natively. */
async function importModule(absolutePath: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(absolutePath).href;
  if (TYPESCRIPT.test(absolutePath)) return (await (await importTypeScript())(url, import.meta.url)) as Record<string, unknown>;
  return (await import(url)) as Record<string, unknown>;
}

export type HandlerFunction = (message: never, context: never) => unknown;

export class HandlerModuleError extends Error {}

/** How long importing a handler module may take (PYTHIA_HANDLER_LOAD_TIMEOUT_MS, default 20 s). */
export function handlerLoadTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.PYTHIA_HANDLER_LOAD_TIMEOUT_MS?.trim();
  return raw !== undefined && /^\d+$/.test(raw) && Number(raw) > 0 ? Number(raw) : 20_000;
}

/** The first line of an import error, with a location in the module when the error carries one. */
export function describeImportError(error: unknown): string {
  if (!(error instanceof Error)) return String(error).split('\n')[0] ?? '';
  // tsx (esbuild) on a .ts syntax error: "Transform failed with 1 error:\n/abs/file.ts:2:12: ERROR: Unexpected ";""
  const transform = /^(.+?):(\d+):(\d+): ERROR: (.*)$/m.exec(error.message);
  if (transform) return `syntax error at ${transform[1]}:${transform[2]}:${transform[3]}: ${transform[4]}`;
  // V8 on a .js syntax error: the stack starts with "file:///abs/file.mjs:2", then the code and a caret line.
  if (error.name === 'SyntaxError' && error.stack) {
    const where = /^(file:\/\/\S+?):(\d+)\n(.*)\n(\s*)\^/.exec(error.stack);
    if (where)
      return `syntax error at ${decodeURIComponent(new URL(where[1] as string).pathname)}:${where[2]}:${(where[4] ?? '').length + 1}: ${error.message.split('\n')[0]}`;
  }
  return error.message.split('\n')[0] ?? '';
}

/** The named export of an imported module, which must be a function. */
export function pickHandlerFunction(mod: Record<string, unknown>, exportName: string): HandlerFunction {
  const candidate = mod[exportName];
  if (typeof candidate !== 'function') {
    const functions = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
    const available = functions.length > 0 ? `; it exports ${functions.map((f) => `"${f}"`).join(', ')}` : '; it exports no function';
    const what = candidate === undefined ? 'has no export' : 'exports something that is not a function under';
    throw new HandlerModuleError(`handler module ${what} "${exportName}"${available}`);
  }
  return candidate as HandlerFunction;
}

/**
 * Imports a handler module and returns the named export, which must be a function. An import that
 * has not settled after `timeoutMs` fails (a module whose top level never finishes would otherwise
 * hold the pipeline in "starting" for ever); the import itself cannot be cancelled.
 */
export async function loadHandlerFunction(
  absolutePath: string,
  exportName: string,
  timeoutMs = handlerLoadTimeoutMs(),
): Promise<HandlerFunction> {
  // The limit is for the module's own top level: registering the TypeScript loader (seconds on a busy
  // machine, once per process) happens before the clock starts.
  if (TYPESCRIPT.test(absolutePath)) await importTypeScript();
  let mod: Record<string, unknown>;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new HandlerModuleError(
              `handler module did not finish loading within ${timeoutMs} ms (its top level never settles?); PYTHIA_HANDLER_LOAD_TIMEOUT_MS sets the limit`,
            ),
          ),
        timeoutMs,
      );
    });
    mod = await Promise.race([importModule(absolutePath), timeout]);
  } catch (error) {
    if (error instanceof HandlerModuleError) throw error;
    throw new HandlerModuleError(`handler module could not be loaded: ${describeImportError(error)}`);
  } finally {
    clearTimeout(timer);
  }
  return pickHandlerFunction(mod, exportName);
}
