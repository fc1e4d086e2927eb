// Runs every test file under test/ with node's test runner (TypeScript through tsx).
// Usage: node scripts/run-tests.mjs [substring filter...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (name === 'fixtures' || name === 'node_modules') return [];
    return statSync(full).isDirectory() ? find(full) : full.endsWith('.test.ts') ? [full] : [];
  });
}

const filters = process.argv.slice(2);
const files = find('test')
  .sort()
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// test/package/ packs and installs the package into fresh projects: minutes, not seconds, so its
// files get a longer per-file timeout in a run of their own.
const slow = files.filter((f) => f.startsWith(path.join('test', 'package') + path.sep));
const runs = [
  [files.filter((f) => !slow.includes(f)), 240_000],
  [slow, 900_000],
].filter(([group]) => group.length > 0);
let status = 0;
for (const [group, timeout] of runs) {
  const args = ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${timeout}`, '--test-reporter=spec', ...group];
  const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
  status ||= result.status ?? 1;
}
process.exit(status);
