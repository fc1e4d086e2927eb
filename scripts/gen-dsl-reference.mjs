// Writes docs/dsl-reference.md from schema/pipeline.schema.json: every key, its type, default,
// constraints and description come from the schema, so the reference cannot drift from it.
// Run: npm run docs   (test/ops/docs.test.ts regenerates and fails when the committed file differs)
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { schema as authored } from './gen-schema.mjs';

const ROOT = new URL('..', import.meta.url);
export const OUTPUT = fileURLToPath(new URL('docs/dsl-reference.md', ROOT));

const code = (value) => '`' + String(value).replaceAll('|', '\\|') + '`';
const cell = (text) => String(text).replaceAll('|', '\\|').replaceAll('\n', ' ');

function typeOf(node) {
  if (node.enum) return node.enum.map((v) => code(JSON.stringify(v))).join(' \\| ');
  if (node.type === 'array') return `array of ${node.items ? typeOf(node.items) : 'any'}`;
  if (node.type === 'object' && node.additionalProperties && typeof node.additionalProperties === 'object')
    return `map of ${typeOf(node.additionalProperties)}`;
  return Array.isArray(node.type) ? node.type.join(' \\| ') : (node.type ?? 'any');
}

function constraints(node, required) {
  const out = [];
  if (required) out.push('**required**');
  if (node.minimum !== undefined && node.maximum !== undefined) out.push(`${node.minimum} – ${node.maximum}`);
  else if (node.minimum !== undefined) out.push(`≥ ${node.minimum}`);
  else if (node.maximum !== undefined) out.push(`≤ ${node.maximum}`);
  if (node.exclusiveMinimum !== undefined) out.push(`> ${node.exclusiveMinimum}`);
  if (node.pattern) out.push(`pattern ${code(node.pattern)}`);
  if (node.maxLength !== undefined) out.push(`max length ${node.maxLength}`);
  if (node.minItems !== undefined) out.push(`at least ${node.minItems} item${node.minItems === 1 ? '' : 's'}`);
  if (node.format) out.push(`format ${node.format}`);
  return out.join(', ');
}

/** The description, then each enum value's own description. */
function describe(node) {
  const values = node.enumDescriptions
    ? node.enum.map((value, i) => `${code(JSON.stringify(value))}: ${node.enumDescriptions[i]}`).join(' ')
    : '';
  return [node.description ?? '', values].filter(Boolean).join(' ');
}

const defaultOf = (node) => (node.default === undefined ? '' : code(JSON.stringify(node.default)));

/** How the alternatives of an object are constrained (exactly one of …). */
function choiceNote(node) {
  if (node.oneOf?.every((b) => b.required?.length === 1)) return `Exactly one of ${node.oneOf.map((b) => code(b.required[0])).join(', ')}.`;
  if (node.minProperties === 1 && node.maxProperties === 1) return `Exactly one of ${Object.keys(node.properties).map(code).join(', ')}.`;
  if (node.maxProperties === 1) return `At most one of ${Object.keys(node.properties).map(code).join(', ')}.`;
  const pairs = node.not?.anyOf;
  if (pairs?.every((b) => b.required?.length === 2))
    return `At most one of ${[...new Set(pairs.flatMap((b) => b.required))].map(code).join(', ')}.`;
  return '';
}

const isSection = (node) => node.type === 'object' && node.properties;

function section(path, node, depth, out) {
  const title = path.join('.');
  out.push(`${'#'.repeat(Math.min(depth, 6))} ${code(title)}`, '');
  out.push([node.description, choiceNote(node)].filter(Boolean).join(' '), '');
  const required = new Set(node.required ?? []);
  out.push('| key | type | default | constraints | description |', '|---|---|---|---|---|');
  for (const [key, child] of Object.entries(node.properties)) {
    const name = isSection(child) ? `[${code(key)}](#${anchor([...path, key].join('.'))})` : code(key);
    out.push(
      `| ${name} | ${isSection(child) ? 'object' : typeOf(child)} | ${defaultOf(child)} | ${constraints(child, required.has(key))} | ${cell(describe(child))} |`,
    );
  }
  out.push('');
  for (const [key, child] of Object.entries(node.properties)) if (isSection(child)) section([...path, key], child, depth + 1, out);
  // Objects inside arrays (e.g. lists of nodes) are documented under their array.
  for (const [key, child] of Object.entries(node.properties))
    if (child.type === 'array' && child.items && isSection(child.items)) section([...path, `${key}[]`], child.items, depth + 1, out);
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function anchor(text) {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9_ -]/g, '')
    .replace(/ /g, '-');
}

/** The exit codes every verb uses (src/cli/exit-codes.ts; test/ops/cli.test.ts checks each verb against them). */
const EXIT_CODES = [
  '## Exit codes',
  '',
  'Every `pythia` verb (`validate`, `run`, `types`, `schema`, `produce`, `dlq`, `console`, `bench`, `demo`) exits with:',
  '',
  '| exit | meaning |',
  '|---|---|',
  '| 0 | done: files valid, worker stopped gracefully, messages sent, `--help`, `--version` |',
  '| 1 | invalid input or failure: a pipeline with errors, a missing file or directory, a warning under `--strict`, Redis unreachable, a replay that left entries behind |',
  '| 2 | usage: unknown verb or option, missing argument, bad option value, or no verb at all (`pythia` alone prints the usage to stderr) |',
  '',
  'Warnings (a value that looks like seconds in a `*_ms` key, for instance) are printed as',
  '`FILE:LINE:COL: warning: message` and do not change the exit code, unless `--strict` is given to `validate` or `run`.',
  '',
];

/** Rendered from the schema as authored (the published file adds `${VAR}` alternatives to every scalar). */
export function render(schema = authored) {
  const out = [
    '<!-- GENERATED by scripts/gen-dsl-reference.mjs from schema/pipeline.schema.json: do not edit; run `npm run docs`. -->',
    '# Pipeline DSL reference',
    '',
    schema.description,
    '',
    'Every pipeline file is validated against `schema/pipeline.schema.json` (printed by `pythia schema`; add',
    '`# yaml-language-server: $schema=../schema/pipeline.schema.json` to a file for editor completion, hover texts with',
    'defaults, and the same errors in the editor). Any scalar may use `${VAR}`, `${VAR:-default}` or `${VAR:?message}`',
    '(the published schema accepts a reference wherever a scalar goes); substituted values are coerced to the type below',
    'and then checked strictly. Keys not listed are errors (with a "did you mean"). Defaults apply to keys that are left out.',
    '',
    '## Top level',
    '',
  ];
  const required = new Set(schema.required ?? []);
  out.push('| key | type | default | constraints | description |', '|---|---|---|---|---|');
  for (const [key, child] of Object.entries(schema.properties)) {
    const name = isSection(child) ? `[${code(key)}](#${anchor(key)})` : code(key);
    out.push(
      `| ${name} | ${isSection(child) ? 'object' : typeOf(child)} | ${defaultOf(child)} | ${constraints(child, required.has(key))} | ${cell(describe(child))} |`,
    );
  }
  out.push('');
  for (const [key, child] of Object.entries(schema.properties)) if (isSection(child)) section([key], child, 2, out);
  out.push(...EXIT_CODES);
  return (
    out
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trimEnd() + '\n'
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  writeFileSync(OUTPUT, render());
  console.log(`wrote ${fileURLToPath(new URL('docs/dsl-reference.md', ROOT)).replace(fileURLToPath(ROOT), '')}`);
}
