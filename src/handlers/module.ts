import path from 'node:path';
import { loadHandlerFunction } from '../config/handler-module.ts';
import type { HandlerRunner } from './runner.ts';
import type { BatchHandler, Handler } from './types.ts';

/** A handler exported by a .ts/.js/.mjs module, called in-process; with `batch`, called with Message[] (handler.batch). */
export async function createModuleRunner(baseDir: string, modulePath: string, exportName: string, batch = false): Promise<HandlerRunner> {
  const loaded = await loadHandlerFunction(path.resolve(baseDir, modulePath), exportName);
  if (batch) return batchRunner(loaded as unknown as BatchHandler);
  const fn = loaded as unknown as Handler;
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

function batchRunner(fn: BatchHandler): HandlerRunner {
  return {
    invoke: () => Promise.reject(new Error('this handler takes batches (handler.batch): it is called through invokeBatch')),
    invokeBatch: (messages, context) => {
      try {
        const results = fn(messages, context);
        return results instanceof Promise ? results : Promise.resolve(results);
      } catch (error) {
        return Promise.reject(error);
      }
    },
    close: async () => {},
  };
}
