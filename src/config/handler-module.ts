import { pathToFileURL } from 'node:url';

// Validation (semantic.ts: the export must exist and be a function) and the module runner (handlers/module.ts)
// load a handler module the same way, so it sits here, below both.

let tsxRegistered: Promise<void> | undefined;

/** .ts handlers run with no build step: tsx's loader is registered once, the first time one is imported. */
async function ensureTypeScriptLoader(): Promise<void> {
  tsxRegistered ??= import('tsx/esm/api').then(({ register }) => {
    register();
  });
  return tsxRegistered;
}

export type HandlerFunction = (message: never, context: never) => unknown;

export class HandlerModuleError extends Error {}

/** Imports a handler module and returns the named export, which must be a function. */
export async function loadHandlerFunction(absolutePath: string, exportName: string): Promise<HandlerFunction> {
  if (/\.(m?ts)$/.test(absolutePath)) await ensureTypeScriptLoader();
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(absolutePath).href)) as Record<string, unknown>;
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new HandlerModuleError(`handler module could not be loaded: ${reason}`);
  }
  const candidate = mod[exportName];
  if (typeof candidate !== 'function') {
    const functions = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
    const available = functions.length > 0 ? `; it exports ${functions.map((f) => `"${f}"`).join(', ')}` : '; it exports no function';
    const what = candidate === undefined ? 'has no export' : 'exports something that is not a function under';
    throw new HandlerModuleError(`handler module ${what} "${exportName}"${available}`);
  }
  return candidate as HandlerFunction;
}
