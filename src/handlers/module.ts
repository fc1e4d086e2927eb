import path from 'node:path';
import { loadHandlerFunction } from './load-module.ts';
import type { HandlerRunner } from './runner.ts';
import type { Handler } from './types.ts';

/** A handler exported by a .ts/.js/.mjs module, called in-process. */
export async function createModuleRunner(baseDir: string, modulePath: string, exportName: string): Promise<HandlerRunner> {
  const fn = (await loadHandlerFunction(path.resolve(baseDir, modulePath), exportName)) as unknown as Handler;
  return {
    // An async wrapper turns a synchronous throw into a rejection, like any other failure.
    invoke: async (message, context) => fn(message, context),
    close: async () => {},
  };
}
