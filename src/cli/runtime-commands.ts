import type { Command } from 'commander';

/** Verbs that talk to Redis (run, produce, dlq, bench, demo); registered here to keep main.ts small. */
export function registerRuntimeCommands(_program: Command, _setExit: (code: number) => void): void {
  // Filled in by the runtime.
}
