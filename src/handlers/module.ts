import path from 'node:path';
import { loadHandlerFunction } from '../config/handler-module.ts';
import type { HandlerRunner } from './runner.ts';
import type { Handler } from './types.ts';

/** A handler exported by a .ts/.js/.mjs module, called in-process. */
export async function createModuleRunner(baseDir: string, modulePath: string, exportName: string): Promise<HandlerRunner> {
  const fn = (await loadHandlerFunction(path.resolve(baseDir, modulePath), exportName)) as unknown as Handler;
  return {
    // A synchronous throw becomes a rejection; a plain value becomes a resolved promise.
    invoke: (message, context) => {
      try {
        const result = fn(message, context);
        return result instanceof Promise ? result : Promise.resolve(result);
      } catch (error) {
        return Promise.reject(error);
      }
    },
    close: async () => {},
  };
}
