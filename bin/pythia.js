#!/usr/bin/env node
// Runs the compiled CLI when it exists (npm ci builds it in `prepare`); from a source checkout
// without a build, falls back to the TypeScript sources through tsx.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/entry.js', import.meta.url);
if (!existsSync(compiled)) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(existsSync(compiled) ? compiled.href : new URL('../src/cli/entry.ts', import.meta.url).href);
