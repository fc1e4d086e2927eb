/**
 * The import rules of src/ (checked by `npm test`): no cycle, and imports flow one way,
 *   cli, testing -> runtime, dlq, producer -> sources, handlers, outputs, metrics, resilience, tracing, flow -> config, redis
 * A layer may import its own folder and anything below it, never above.
 */
const top = '^src/(cli|testing)/';
const runtime = '^src/(runtime|dlq|producer)/';
const middle = '^src/(sources|handlers|outputs|metrics|resilience|tracing|flow)/';
const bottom = '^src/(config|redis)/';

export default {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'Files that import each other (directly or through others) cannot be read, tested or loaded one at a time.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'bottom-imports-upward',
      severity: 'error',
      comment: 'config/ and redis/ are the ground floor: they import nothing of the layers above.',
      from: { path: bottom },
      to: { path: [middle, runtime, top] },
    },
    {
      name: 'middle-imports-upward',
      severity: 'error',
      comment: 'sources, handlers, outputs, metrics, resilience, tracing and flow are driven by the runtime and never import it (metrics observe it through metrics/watched-pipeline.ts).',
      from: { path: middle },
      to: { path: [runtime, top] },
    },
    {
      name: 'runtime-imports-cli',
      severity: 'error',
      comment: 'The runtime and dlq/ are used by the CLI and the test harness, not the other way round.',
      from: { path: runtime },
      to: { path: top },
    },
    {
      name: 'published-imports-bench',
      severity: 'error',
      comment: 'Benchmarks are not part of the published package (see package.json files).',
      from: { path: '^src/' },
      to: { path: '^bench/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a cycle through types still ties the files together.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs'] },
  },
};
