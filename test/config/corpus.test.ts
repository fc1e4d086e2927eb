// The invalid-pipeline corpus: one file per mistake a person makes, each pinned to the exact line,
// column and wording of the error. A message that is unclear or points at the wrong place is fixed
// in src/config/, never by loosening an expectation here.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadPipelineFile, loadPipelines, PipelineConfigError, type ConfigIssue } from '../../src/config/index.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const corpusDir = path.join(root, 'test/fixtures/invalid');
const supportDir = path.join(root, 'test/fixtures/support');
const bin = path.join(root, 'bin/pythia.js');

/** The environment without the corpus's variables: they must be unset for the env fixtures. */
const cleanEnv: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('PYTHIA_CORPUS_')));

const STACK_LINE = /^\s+at .+[(:]/m;

interface Case {
  file: string;
  line: number;
  col: number;
  /** The exact message, or a pattern for the words that matter. */
  message: string | RegExp;
  /** The JSON pointer of the field, when the mistake is about one field. */
  pointer?: string;
}

const support = (name: string) => path.join(supportDir, name);

const CASES: Case[] = [
  // Keys: misspelt, misplaced, legacy, unknown
  {
    file: 'misspelt-key.yml',
    line: 8,
    col: 1,
    message: 'unknown key "concurency" in the top level; did you mean "concurrency"?',
    pointer: '/concurency',
  },
  {
    file: 'misspelt-required-key.yml',
    line: 2,
    col: 1,
    message: 'unknown key "nmae" in the top level; did you mean "name"?',
    pointer: '/nmae',
  },
  {
    file: 'misspelt-source-kind.yml',
    line: 4,
    col: 3,
    message: 'unknown key "steam" in source; did you mean "stream"?',
    pointer: '/source/steam',
  },
  {
    file: 'key-at-wrong-depth.yml',
    line: 3,
    col: 1,
    message: 'unknown key "batch_size" in the top level; "batch_size" belongs at source.list.batch_size: check its indentation',
    pointer: '/batch_size',
  },
  {
    file: 'handler-inside-source.yml',
    line: 6,
    col: 3,
    message: 'unknown key "handler" in source; "handler" belongs at the top level (handler:): check its indentation',
    pointer: '/source/handler',
  },
  {
    file: 'legacy-python-name.yml',
    line: 5,
    col: 3,
    message: 'unknown key "queue" in redis; Pythia\'s Python setting "queue" is source.list.key here',
    pointer: '/redis/queue',
  },
  {
    file: 'legacy-max-concurrent.yml',
    line: 8,
    col: 1,
    message: 'unknown key "max_concurrent" in the top level; Pythia\'s Python setting "max_concurrent" is concurrency here',
    pointer: '/max_concurrent',
  },
  {
    file: 'unknown-top-level-key.yml',
    line: 8,
    col: 1,
    message: /^unknown key "logging" in the top level; allowed keys: version, name, broker, redis, source, .*shutdown, tracing$/,
    pointer: '/logging',
  },
  {
    file: 'duplicate-key.yml',
    line: 11,
    col: 1,
    message: 'duplicate key "concurrency": it is already set on line 8, and each key may appear once in a mapping',
  },

  // Types and ranges
  {
    file: 'wrong-type.yml',
    line: 6,
    col: 17,
    message: 'source.list.batch_size must be an integer, got string "lots"',
    pointer: '/source/list/batch_size',
  },
  {
    file: 'quoted-integer.yml',
    line: 5,
    col: 9,
    message: 'redis.port must be an integer, got string "6379": remove the quotes',
    pointer: '/redis/port',
  },
  {
    file: 'boolean-as-yes.yml',
    line: 9,
    col: 12,
    message: 'metrics.enabled must be true or false, got string "yes": YAML 1.2 reads yes/no/on/off as strings; write true or false',
    pointer: '/metrics/enabled',
  },
  {
    file: 'list-as-string.yml',
    line: 4,
    col: 9,
    message: 'source.list must be a mapping, got string "task-queue"; write list: {key: "task-queue"}',
    pointer: '/source/list',
  },
  {
    file: 'command-as-string.yml',
    line: 7,
    col: 12,
    message:
      'handler.command must be a list, got string "python3 handlers/orders.py"; write it as a list, e.g. ["python3", "handlers/orders.py"] (it never runs through a shell)',
    pointer: '/handler/command',
  },
  { file: 'command-empty.yml', line: 7, col: 12, message: 'handler.command must have at least 1 item', pointer: '/handler/command' },
  { file: 'port-out-of-range.yml', line: 5, col: 9, message: 'redis.port must be <= 65535, got 70000', pointer: '/redis/port' },
  { file: 'negative-concurrency.yml', line: 8, col: 14, message: 'concurrency must be >= 1, got -4', pointer: '/concurrency' },
  // Flow control (docs/flow-control.md)
  { file: 'rate-limit-zero.yml', line: 9, col: 8, message: 'rate_limit.max must be >= 1, got 0', pointer: '/rate_limit/max' },
  {
    file: 'rate-limit-fractional-period.yml',
    line: 8,
    col: 32,
    message: 'rate_limit.per_ms must be an integer, got number 2.5 — milliseconds; did you mean 2500?',
    pointer: '/rate_limit/per_ms',
  },
  {
    file: 'ordering-key-not-pointer.yml',
    line: 9,
    col: 8,
    message: 'ordering.key "customer/id" is neither a JSON pointer (it must start with "/", e.g. /customer/id) nor header:NAME',
    pointer: '/ordering/key',
  },
  {
    file: 'ordering-key-bad-escape.yml',
    line: 9,
    col: 8,
    message: 'ordering.key "/customer~2id" is not a valid JSON pointer: "~" must be followed by 0 or 1 (~0 is "~", ~1 is "/")',
    pointer: '/ordering/key',
  },
  {
    file: 'ordering-pointer-with-text.yml',
    line: 10,
    col: 17,
    message:
      'ordering.key "/customer" is a JSON pointer into the body, which needs message.format: json (the format is text); use header:NAME instead',
    pointer: '/ordering/key',
  },
  {
    file: 'jitter-above-one.yml',
    line: 9,
    col: 17,
    message: 'resilience.retry_jitter must be <= 1, got 1.5',
    pointer: '/resilience/retry_jitter',
  },
  {
    file: 'bad-enum-delivery.yml',
    line: 6,
    col: 15,
    message: 'source.list.delivery must be one of "at-least-once", "at-most-once", got "exactly-once"',
    pointer: '/source/list/delivery',
  },
  { file: 'bad-broker.yml', line: 3, col: 9, message: 'broker must be "redis", got "kafka"', pointer: '/broker' },
  {
    file: 'version-2.yml',
    line: 1,
    col: 10,
    message: 'version 2 is not supported: this Pythia reads version 1 pipeline files',
    pointer: '/version',
  },
  {
    file: 'name-uppercase.yml',
    line: 2,
    col: 7,
    message: 'name "Orders" must be lowercase letters, digits, "-" and "_", starting with a letter or digit',
    pointer: '/name',
  },
  {
    file: 'key-with-space.yml',
    line: 5,
    col: 10,
    message: 'source.list.key "task queue" must not contain spaces',
    pointer: '/source/list/key',
  },
  {
    file: 'bad-start-id.yml',
    line: 6,
    col: 15,
    message:
      'source.stream.start_id "latest" must be "$" (new entries only), "0" (the whole stream) or an entry id such as "1700000000000-0"',
    pointer: '/source/stream/start_id',
  },
  {
    file: 'metrics-path-without-slash.yml',
    line: 9,
    col: 9,
    message: 'metrics.path "metrics" must start with "/"',
    pointer: '/metrics/path',
  },

  // Required keys and exactly-one-of
  { file: 'missing-name.yml', line: 1, col: 1, message: 'the top level is missing the required key "name" (e.g. name: orders)' },
  {
    file: 'no-source.yml',
    line: 1,
    col: 1,
    message: 'the top level is missing the required key "source" (e.g. source: {list: {key: task-queue}})',
  },
  {
    file: 'no-handler.yml',
    line: 1,
    col: 1,
    message: 'the top level is missing the required key "handler" (e.g. handler: {module: ./handlers/orders.ts})',
  },
  { file: 'no-source-kind.yml', line: 3, col: 1, message: 'source needs one of list, stream or channel', pointer: '/source' },
  {
    file: 'source-empty.yml',
    line: 3,
    col: 1,
    message: 'source has no value: it needs one of list, stream or channel',
    pointer: '/source',
  },
  {
    file: 'list-and-stream.yml',
    line: 6,
    col: 3,
    message: 'source must have exactly one of list, stream or channel, found list and stream',
    pointer: '/source/stream',
  },
  { file: 'handler-without-kind.yml', line: 6, col: 1, message: 'handler needs one of module or command', pointer: '/handler' },
  {
    file: 'handler-module-and-command.yml',
    line: 8,
    col: 3,
    message: 'handler must have exactly one of module or command, found module and command',
    pointer: '/handler/command',
  },
  {
    file: 'dead-letter-two-kinds.yml',
    line: 10,
    col: 3,
    message: 'dead_letter must have exactly one of list or stream, found list and stream',
    pointer: '/dead_letter/stream',
  },
  {
    file: 'output-two-kinds.yml',
    line: 14,
    col: 3,
    message: 'output must have at most one of list, stream or channel, found list and channel',
    pointer: '/output/channel',
  },
  {
    file: 'output-envelope-without-target.yml',
    line: 9,
    col: 13,
    message: 'output.envelope says how results are packed, but there is no output: add output.list, output.stream or output.channel',
    pointer: '/output/envelope',
  },
  {
    file: 'pop-from-unknown.yml',
    line: 6,
    col: 15,
    message: 'source.list.pop_from must be one of "right", "left", got "head"',
    pointer: '/source/list/pop_from',
  },
  {
    file: 'dead-letter-stream-without-key.yml',
    line: 9,
    col: 3,
    message: 'dead_letter.stream is missing the required key "key"',
    pointer: '/dead_letter/stream',
  },
  {
    file: 'channel-without-subscriptions.yml',
    line: 4,
    col: 3,
    message: 'source.channel needs at least one entry in channels or patterns',
    pointer: '/source/channel',
  },

  // Redis connection
  {
    file: 'redis-url-and-host.yml',
    line: 5,
    col: 3,
    message: 'redis.url and redis.host are both set: use the url alone (it can carry user:password@host:port/db) or drop it',
    pointer: '/redis/host',
  },
  {
    file: 'redis-url-and-cluster.yml',
    line: 5,
    col: 3,
    message: 'redis.url and redis.cluster are both set: choose one connection mode',
    pointer: '/redis/cluster',
  },
  {
    file: 'redis-url-scheme.yml',
    line: 4,
    col: 8,
    message: 'redis.url "http://localhost:6379" must start with redis:// or rediss://',
    pointer: '/redis/url',
  },
  {
    file: 'tls-file-missing.yml',
    line: 6,
    col: 14,
    message: `redis.tls.ca_file not found: ../support/certs/ca.pem (resolved to ${support('certs/ca.pem')})`,
    pointer: '/redis/tls/ca_file',
  },
  {
    file: 'tls-cert-without-key.yml',
    line: 6,
    col: 5,
    message: 'redis.tls.cert_file needs redis.tls.key_file too: a client certificate and its private key go together',
    pointer: '/redis/tls/cert_file',
  },

  // Handler
  {
    file: 'missing-module-file.yml',
    line: 7,
    col: 11,
    message: `handler.module file not found: ../support/no-such-handler.mjs (resolved to ${support('no-such-handler.mjs')})`,
    pointer: '/handler/module',
  },
  {
    file: 'module-wrong-extension.yml',
    line: 7,
    col: 11,
    message: 'handler.module "../support/handler.py" must name a .ts, .mts, .cts, .js, .mjs or .cjs file',
    pointer: '/handler/module',
  },
  {
    file: 'missing-export.yml',
    line: 8,
    col: 11,
    message: 'handler module ../support/handler.mjs has no export "handleOrder"; it exports "default", "process"',
    pointer: '/handler/export',
  },
  {
    file: 'missing-default-export.yml',
    line: 7,
    col: 11,
    message:
      'handler module ../support/no-default.mjs has no export "default"; it exports "handle": set handler.export to the function\'s name',
    pointer: '/handler/module',
  },
  {
    file: 'export-not-function.yml',
    line: 8,
    col: 11,
    message:
      /^handler module \.\.\/support\/handler\.mjs exports something that is not a function under "settings"; it exports "default", "process"$/,
    pointer: '/handler/export',
  },
  {
    file: 'module-throws-on-import.yml',
    line: 7,
    col: 11,
    message: 'handler module ../support/throws-on-import.mjs could not be loaded: DATABASE_URL is not configured',
    pointer: '/handler/module',
  },
  {
    file: 'module-with-command-option.yml',
    line: 8,
    col: 3,
    message: 'handler.env applies only to command handlers, and this handler is a module',
    pointer: '/handler/env',
  },
  {
    file: 'command-with-export.yml',
    line: 8,
    col: 3,
    message: 'handler.export applies only to module handlers, and this handler is a command',
    pointer: '/handler/export',
  },
  {
    file: 'instances-without-persistent.yml',
    line: 8,
    col: 3,
    message: 'handler.instances needs handler.mode: persistent',
    pointer: '/handler/instances',
  },
  {
    file: 'batch-with-per-message-command.yml',
    line: 8,
    col: 3,
    message: 'handler.batch needs a module or handler.mode: persistent: a per-message command handles one message per process',
    pointer: '/handler/batch',
  },
  {
    file: 'batch-larger-than-concurrency.yml',
    line: 9,
    col: 15,
    message:
      'handler.batch.max_size 100 is larger than concurrency 10: each message of a batch holds a concurrency slot, so the batch could never fill; raise concurrency to at least 100 (200 lets one batch fill while another runs) or lower max_size',
    pointer: '/handler/batch/max_size',
  },
  {
    file: 'batch-max-size-zero.yml',
    line: 9,
    col: 15,
    message: 'handler.batch.max_size must be >= 1, got 0',
    pointer: '/handler/batch/max_size',
  },
  {
    file: 'batch-max-wait-fraction.yml',
    line: 8,
    col: 37,
    message: 'handler.batch.max_wait_ms must be an integer, got number 2.5 — milliseconds; did you mean 2500?',
    pointer: '/handler/batch/max_wait_ms',
  },
  {
    file: 'command-not-on-path.yml',
    line: 7,
    col: 13,
    message: 'handler.command executable "pythia-no-such-executable" is not on the PATH',
    pointer: '/handler/command/0',
  },
  {
    file: 'handler-cwd-missing.yml',
    line: 8,
    col: 8,
    message: `handler.cwd is not a directory: ${support('no-such-dir')}`,
    pointer: '/handler/cwd',
  },

  // Keys that would loop or mix
  {
    file: 'dead-letter-equals-source.yml',
    line: 9,
    col: 9,
    message: 'dead_letter.list "orders" is the source list itself: messages would loop forever; use another key such as "orders:dead"',
    pointer: '/dead_letter/list',
  },
  {
    file: 'output-equals-source.yml',
    line: 10,
    col: 10,
    message: 'output.stream.key "events" is the source stream itself: messages would loop forever; use another key such as "events:done"',
    pointer: '/output/stream/key',
  },
  {
    file: 'output-equals-dead-letter.yml',
    line: 11,
    col: 9,
    message: 'output and dead_letter both use "orders:failed": results and failures would mix',
    pointer: '/output/list',
  },
  {
    file: 'output-channel-is-source.yml',
    line: 11,
    col: 12,
    message: 'output.channel "alerts" is one of the source channels: results would be consumed again forever',
    pointer: '/output/channel',
  },

  // message.schema
  {
    file: 'message-schema-missing.yml',
    line: 7,
    col: 11,
    message: `message.schema file not found: ../support/orders.schema.json (resolved to ${support('orders.schema.json')})`,
    pointer: '/message/schema',
  },
  {
    file: 'message-schema-invalid.yml',
    line: 7,
    col: 11,
    message:
      'message.schema ../support/invalid.schema.json is not a valid JSON Schema: /type must be one of "array", "boolean", "integer", "null", "number", "object", "string", got "objekt"',
    pointer: '/message/schema',
  },
  {
    file: 'message-schema-not-json.yml',
    line: 7,
    col: 11,
    message: /^message\.schema \.\.\/support\/not-json\.schema\.json is not valid JSON: .*\(line 4, column 1 of the schema file\)$/,
    pointer: '/message/schema',
  },
  {
    file: 'message-schema-with-text.yml',
    line: 8,
    col: 11,
    message: 'message.schema needs message.format: json (the format is text)',
    pointer: '/message/schema',
  },

  // Environment variables
  {
    file: 'env-unset.yml',
    line: 5,
    col: 10,
    message:
      'environment variable PYTHIA_CORPUS_UNSET_QUEUE is not set and has no default: set it, or write ${PYTHIA_CORPUS_UNSET_QUEUE:-default}',
    pointer: '/source/list/key',
  },
  {
    file: 'env-required-message.yml',
    line: 5,
    col: 13,
    message: 'environment variable PYTHIA_CORPUS_UNSET_PASSWORD is not set: set the Redis password',
    pointer: '/redis/password',
  },
  {
    file: 'env-malformed-reference.yml',
    line: 4,
    col: 9,
    message:
      /^malformed variable reference "\$\{REDIS HOST\}": "REDIS HOST" is not a variable name \(letters, digits and _, not starting with a digit\); write \$\{NAME\}/,
    pointer: '/redis/host',
  },
  {
    file: 'env-unclosed-reference.yml',
    line: 5,
    col: 10,
    message: /^malformed variable reference "\$\{PYTHIA_CORPUS_QUEUE:-orders": it has no closing \}; write \$\{NAME\}/,
    pointer: '/source/list/key',
  },
  {
    file: 'env-default-wrong-type.yml',
    line: 8,
    col: 14,
    message: 'concurrency must be an integer, got string "many" (the value comes from ${PYTHIA_CORPUS_UNSET_CONCURRENCY:-many})',
    pointer: '/concurrency',
  },

  // The file as a whole, and YAML itself
  { file: 'empty.yml', line: 1, col: 1, message: 'the file is empty: a pipeline needs at least name, source and handler' },
  { file: 'comments-only.yml', line: 1, col: 1, message: 'the file has only comments: a pipeline needs at least name, source and handler' },
  {
    file: 'top-level-list.yml',
    line: 1,
    col: 1,
    message:
      'the top level must be a mapping of keys (name:, source:, handler: ...), not a list (one file is one pipeline: remove the leading "- ")',
  },
  {
    file: 'top-level-scalar.yml',
    line: 1,
    col: 1,
    message: 'the top level must be a mapping of keys (name:, source:, handler: ...), not a single value',
  },
  {
    file: 'multiple-documents.yml',
    line: 8,
    col: 1,
    message: 'the file holds more than one YAML document (a "---" line): one file is one pipeline, so put each pipeline in its own file',
  },
  { file: 'tab-indentation.yml', line: 5, col: 1, message: 'tab used for indentation: YAML indents with spaces only' },
  {
    file: 'bad-indentation.yml',
    line: 6,
    col: 4,
    message: 'this key is not aligned with the keys above it: keys of one mapping must start at the same column',
  },
  {
    file: 'over-indented-key.yml',
    line: 6,
    col: 7,
    message: 'this line is indented deeper than the key above it, which already has a value: align it with that key',
  },
  { file: 'unclosed-quote.yml', line: 2, col: 7, message: 'unclosed " quote: the string that starts here never ends; add the closing "' },
  { file: 'unclosed-bracket.yml', line: 5, col: 15, message: 'unclosed [: the list that starts here never ends; add the closing ]' },
  {
    file: 'unknown-yaml-tag.yml',
    line: 4,
    col: 13,
    message: 'unknown YAML tag !vault: pipeline files use plain values (write ${VAR} to take one from the environment)',
  },
  { file: 'unknown-alias.yml', line: 9, col: 9, message: 'unknown alias *dead_key: no anchor &dead_key is defined before it' },
  {
    file: 'alias-bomb.yml',
    line: 4,
    col: 8,
    message: 'YAML aliases expand to too many values (more than 100 per alias): write the values out instead',
  },
];

function assertIssue(issue: ConfigIssue, expected: Case): void {
  const where = `${expected.file}: ${issue.line}:${issue.col}: ${issue.message}`;
  assert.equal(issue.line, expected.line, `line of ${where}`);
  assert.equal(issue.col, expected.col, `column of ${where}`);
  if (typeof expected.message === 'string') assert.equal(issue.message, expected.message);
  else assert.match(issue.message, expected.message);
  if (expected.pointer !== undefined) assert.equal(issue.pointer, expected.pointer, `pointer of ${where}`);
  else assert.ok(!issue.pointer, `no pointer expected for ${where}, got ${issue.pointer}`);
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd: root, env: cleanEnv });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('invalid pipeline corpus', () => {
  const files = readdirSync(corpusDir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort();

  it('holds at least 34 files, each with exactly one expectation', () => {
    assert.ok(files.length >= 34, `only ${files.length} fixtures`);
    const covered = CASES.map((c) => c.file).sort();
    assert.deepEqual(covered, [...new Set(covered)], 'a fixture is listed twice');
    assert.deepEqual(covered, files, 'every fixture needs a case, and every case a fixture');
  });

  for (const expected of CASES) {
    it(`${expected.file} → ${expected.line}:${expected.col}`, async () => {
      const result = await loadPipelineFile(path.join(corpusDir, expected.file), { env: cleanEnv });
      assert.equal(result.ok, false, `${expected.file} should be invalid`);
      if (result.ok) return;
      assert.equal(
        result.issues.length,
        1,
        `one mistake, one message; got:\n${result.issues.map((i) => `${i.line}:${i.col}: ${i.message}`).join('\n')}`,
      );
      const issue = result.issues[0] as ConfigIssue;
      assert.equal(issue.file, path.join(corpusDir, expected.file));
      assertIssue(issue, expected);
    });
  }

  describe('through the CLI', () => {
    const sample = [
      'misspelt-key.yml',
      'duplicate-key.yml',
      'missing-export.yml',
      'env-unset.yml',
      'unclosed-quote.yml',
      'alias-bomb.yml',
      'dead-letter-equals-source.yml',
    ];
    for (const name of sample) {
      it(`pythia validate ${name} exits 1 with FILE:LINE:COL and no stack trace`, async () => {
        const expected = CASES.find((c) => c.file === name) as Case;
        const file = path.join('test/fixtures/invalid', name);
        const { code, stdout, stderr } = await cli(['validate', file]);
        assert.equal(code, 1);
        assert.doesNotMatch(stdout + stderr, STACK_LINE);
        const lines = stdout.split('\n').filter((l) => l.startsWith(`${file}:`));
        assert.equal(lines.length, 1, stdout);
        const prefix = `${file}:${expected.line}:${expected.col}: `;
        assert.ok(lines[0]?.startsWith(prefix), `${lines[0]} should start with ${prefix}`);
        const text = (lines[0] as string).slice(prefix.length).replace(/ \(at \/[^)]*\)$/, '');
        if (typeof expected.message === 'string') assert.equal(text, expected.message);
        else assert.match(text, expected.message);
        if (expected.pointer) assert.ok(lines[0]?.endsWith(` (at ${expected.pointer})`), lines[0]);
        assert.match(stdout, /1 of 1 pipeline files invalid/);
      });
    }

    it('--format json gives the same issue', async () => {
      const { code, stdout } = await cli(['validate', '--format', 'json', 'test/fixtures/invalid/port-out-of-range.yml']);
      assert.equal(code, 1);
      const report = JSON.parse(stdout) as { valid: boolean; files: { file: string; valid: boolean; issues: ConfigIssue[] }[] };
      assert.equal(report.valid, false);
      assert.deepEqual(report.files[0]?.issues, [
        {
          file: 'test/fixtures/invalid/port-out-of-range.yml',
          line: 5,
          col: 9,
          message: 'redis.port must be <= 65535, got 70000',
          pointer: '/redis/port',
        },
      ]);
    });

    it('the whole corpus directory exits 1, reports every file and prints no stack trace', async () => {
      const { code, stdout, stderr } = await cli(['validate', 'test/fixtures/invalid']);
      assert.equal(code, 1);
      assert.doesNotMatch(stdout + stderr, STACK_LINE);
      assert.equal(stderr, '');
      assert.match(stdout, new RegExp(`^${files.length} of ${files.length} pipeline files invalid$`, 'm'));
      for (const name of files)
        assert.match(stdout, new RegExp(`^test/fixtures/invalid/${name.replace(/\./g, '\\.')}:\\d+:\\d+: `, 'm'), `${name} not reported`);
    });

    it('the whole corpus as JSON: every file invalid, every issue located', async () => {
      const { code, stdout, stderr } = await cli(['validate', '--format', 'json', 'test/fixtures/invalid']);
      assert.equal(code, 1);
      assert.doesNotMatch(stdout + stderr, STACK_LINE);
      const report = JSON.parse(stdout) as { valid: boolean; files: { valid: boolean; issues: ConfigIssue[] }[] };
      assert.equal(report.files.length, files.length);
      for (const file of report.files) {
        assert.equal(file.valid, false);
        for (const issue of file.issues) assert.ok(issue.line >= 1 && issue.col >= 1 && issue.message.length > 0);
      }
    });
  });
});

describe('pipelines that clash when run together', () => {
  it('two files valid alone, with the same name and different metrics ports, are reported at the second', async () => {
    const dir = path.join(root, 'test/fixtures/together');
    for (const name of ['first.yml', 'second.yml'])
      assert.equal((await loadPipelineFile(path.join(dir, name), { env: cleanEnv })).ok, true, name);
    const error = await loadPipelines([dir], { env: cleanEnv }).then(
      () => assert.fail('expected a PipelineConfigError'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof PipelineConfigError);
    const second = path.join(dir, 'second.yml');
    assert.deepEqual(
      error.issues.map((i) => [i.file, i.line, i.col, i.pointer]),
      [
        [second, 3, 7, '/name'],
        [second, 10, 9, '/metrics/port'],
      ],
    );
    assert.match(
      error.issues[0]?.message ?? '',
      /pipeline name "orders" is also used by .*first\.yml: names must be unique in one process/,
    );
    assert.match(error.issues[1]?.message ?? '', /one process serves one metrics endpoint/);
  });
});
