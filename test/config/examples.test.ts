// The shipped pipelines validate; env interpolation, coercion and defaults behave as the DSL
// contract says; and the validate / types / schema commands keep their exit codes and shapes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadPipelines, loadPipelineText, type LoadResult, type PipelineConfig } from '../../src/config/index.ts';
import { interpolate } from '../../src/config/interpolate.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = path.join(root, 'bin/pythia.js');
const STACK_LINE = /^\s+at .+[(:]/m;

/** Python Pythia's variable names, removed so that the examples' own defaults are what is tested. */
const SEED_VARS = ['REDIS_URL', 'REDIS_HOST', 'REDIS_PORT', 'REDIS_PASSWORD', 'REDIS_QUEUE', 'PYTHIA_MAX_CONCURRENT', 'PYTHIA_BROKER_TYPE'];
const baseEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !SEED_VARS.includes(name) && !name.startsWith('PYTHIA_TEST_')),
);

async function cli(args: string[], env: NodeJS.ProcessEnv = baseEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd: root, env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A pipeline "file" next to the corpus's support handler, so module paths resolve. */
const virtualFile = path.join(root, 'test/fixtures/support/inline.yml');
const MINIMAL = 'name: minimal\nsource:\n  list:\n    key: jobs\nhandler:\n  module: ./handler.mjs\n';

async function load(text: string, env: NodeJS.ProcessEnv = {}): Promise<LoadResult> {
  return loadPipelineText(virtualFile, text, { env: { PATH: process.env.PATH, ...env } });
}

async function config(text: string, env: NodeJS.ProcessEnv = {}): Promise<PipelineConfig> {
  const result = await load(text, env);
  if (!result.ok)
    assert.fail(`expected a valid pipeline, got:\n${result.issues.map((i) => `${i.line}:${i.col}: ${i.message}`).join('\n')}`);
  return result.pipeline.config;
}

async function issues(text: string, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const result = await load(text, env);
  assert.equal(result.ok, false, 'expected an invalid pipeline');
  return result.ok ? [] : result.issues.map((i) => `${i.line}:${i.col}: ${i.message}`);
}

describe('pipelines/ examples', () => {
  const files = readdirSync(path.join(root, 'pipelines')).filter((f) => /\.ya?ml$/.test(f));

  it('all load with loadPipelines, one per source kind at least', async () => {
    const pipelines = await loadPipelines([path.join(root, 'pipelines')], { env: baseEnv });
    assert.equal(pipelines.length, files.length);
    const kinds = new Set(pipelines.map((p) => Object.keys(p.config.source)[0]));
    assert.deepEqual([...kinds].sort(), ['channel', 'list', 'stream']);
    const orders = pipelines.find((p) => p.config.name === 'orders');
    assert.equal(orders?.config.source.list?.key, 'task-queue');
    assert.equal(orders?.config.concurrency, 10);
    assert.equal(orders?.config.redis.host, 'localhost');
    assert.equal(orders?.config.redis.port, 6379);
  });

  it('take the Python Pythia environment names (REDIS_HOST, REDIS_PORT, REDIS_QUEUE, PYTHIA_MAX_CONCURRENT)', async () => {
    const env = {
      ...baseEnv,
      REDIS_HOST: 'redis.internal',
      REDIS_PORT: '6380',
      REDIS_QUEUE: 'jobs',
      PYTHIA_MAX_CONCURRENT: '25',
      PYTHIA_BROKER_TYPE: 'redis',
    };
    const [orders] = await loadPipelines([path.join(root, 'pipelines/orders.yml')], { env });
    assert.equal(orders?.config.redis.host, 'redis.internal');
    assert.equal(orders?.config.redis.port, 6380);
    assert.equal(orders?.config.source.list?.key, 'jobs');
    assert.equal(orders?.config.concurrency, 25);
  });

  it('reject PYTHIA_BROKER_TYPE other than redis, at the broker line', async () => {
    const env = { ...baseEnv, PYTHIA_BROKER_TYPE: 'rabbitmq' };
    await assert.rejects(loadPipelines([path.join(root, 'pipelines/orders.yml')], { env }), (error: Error) => {
      assert.match(
        error.message,
        /orders\.yml:5:9: broker must be "redis", got "rabbitmq" \(the value comes from \$\{PYTHIA_BROKER_TYPE:-redis\}\) \(at \/broker\)/,
      );
      return true;
    });
  });

  it('`pythia validate pipelines/` exits 0 and says so', async () => {
    const { code, stdout, stderr } = await cli(['validate', 'pipelines/']);
    assert.equal(code, 0, stdout + stderr);
    assert.match(stdout, new RegExp(`^${files.length} pipelines valid$`, 'm'));
    for (const file of files) assert.match(stdout, new RegExp(`^pipelines/${file.replace('.', '\\.')}: valid: `, 'm'));
    assert.match(stdout, /notifications\.yml: note: pub\/sub is at-most-once/);
  });

  it('`pythia validate --format json pipelines/` prints {valid, files: [{file, valid, issues, notes, warnings}]}', async () => {
    const { code, stdout } = await cli(['validate', '--format', 'json', 'pipelines/']);
    assert.equal(code, 0);
    const report = JSON.parse(stdout) as {
      valid: boolean;
      files: { file: string; valid: boolean; issues: unknown[]; notes: string[]; warnings: string[] }[];
    };
    assert.deepEqual(Object.keys(report), ['valid', 'files']);
    assert.equal(report.valid, true);
    assert.equal(report.files.length, files.length);
    for (const file of report.files) {
      assert.deepEqual(Object.keys(file), ['file', 'valid', 'issues', 'notes', 'warnings']);
      assert.equal(file.valid, true);
      assert.deepEqual(file.issues, []);
      assert.ok(Array.isArray(file.notes));
    }
    assert.equal(report.files.find((f) => f.file.endsWith('notifications.yml'))?.notes.length, 1);
  });
});

describe('environment interpolation', () => {
  it('substitutes ${VAR}, several in one scalar', () => {
    const out = interpolate({ redis: { url: 'redis://${H}:${P}/0' } }, { H: 'cache', P: '7000' });
    assert.deepEqual(out.data, { redis: { url: 'redis://cache:7000/0' } });
    assert.deepEqual(out.problems, []);
    assert.deepEqual(out.substituted, [['redis', 'url']]);
  });

  it('uses ${VAR:-default} when unset or empty, ${VAR-default} only when unset', () => {
    const data = { a: '${X:-fallback}', b: '${X-fallback}', c: '${Y:-}' };
    assert.deepEqual(interpolate(data, {}).data, { a: 'fallback', b: 'fallback', c: '' });
    assert.deepEqual(interpolate(data, { X: '' }).data, { a: 'fallback', b: '', c: '' });
    assert.deepEqual(interpolate(data, { X: 'set' }).data, { a: 'set', b: 'set', c: '' });
  });

  it('fails ${VAR:?message} with the message when unset or empty; ${VAR?message} only when unset', () => {
    assert.deepEqual(interpolate({ p: '${PW:?set the password}' }, {}).problems, [
      { path: ['p'], message: 'environment variable PW is not set: set the password' },
    ]);
    assert.deepEqual(interpolate({ p: '${PW:?set the password}' }, { PW: '' }).problems.length, 1);
    assert.deepEqual(interpolate({ p: '${PW?set the password}' }, { PW: '' }).problems, []);
    assert.deepEqual(interpolate({ p: '${PW:?}' }, {}).problems, [
      { path: ['p'], message: 'environment variable PW is not set: it is required' },
    ]);
    assert.deepEqual(interpolate({ p: '${PW:?x}' }, { PW: 'secret' }).data, { p: 'secret' });
  });

  it('names an unset variable without a default, with its line and column', async () => {
    const found = await issues(MINIMAL.replace('key: jobs', 'key: ${PYTHIA_TEST_NOPE}'));
    assert.deepEqual(found, [
      '4:10: environment variable PYTHIA_TEST_NOPE is not set and has no default: set it, or write ${PYTHIA_TEST_NOPE:-default}',
    ]);
  });

  it('turns $${ into a literal ${ without substituting or coercing', async () => {
    const out = interpolate({ a: 'cost $${AMOUNT}', b: '$${X} and ${X}' }, { AMOUNT: '5', X: 'x' });
    assert.deepEqual(out.data, { a: 'cost ${AMOUNT}', b: '${X} and x' });
    assert.deepEqual(out.substituted, [['b']]);
    const loaded = await config(MINIMAL + 'redis:\n  password: "p$${w}d"\n');
    assert.equal(loaded.redis.password, 'p${w}d');
  });

  it('coerces substituted values to the schema type: "10" → 10, "1.5" → 1.5, "false" → false', async () => {
    const text = `${MINIMAL}concurrency: \${C}\nresilience:\n  retry_backoff: \${B}\nmetrics:\n  enabled: \${M}\n  port: \${PORT:-9100}\n`;
    const loaded = await config(text, { C: '10', B: '1.5', M: 'false' });
    assert.equal(loaded.concurrency, 10);
    assert.equal(loaded.resilience.retry_backoff, 1.5);
    assert.equal(loaded.metrics.enabled, false);
    assert.equal(loaded.metrics.port, 9100);
    assert.equal((await config(text, { C: '3', B: '2', M: 'true' })).metrics.enabled, true);
  });

  it('keeps substituted values of string fields as strings ("123" stays "123")', async () => {
    const loaded = await config(`${MINIMAL}redis:\n  password: \${PW}\n  username: \${U:-007}\n`, { PW: '123' });
    assert.equal(loaded.redis.password, '123');
    assert.equal(loaded.redis.username, '007');
  });

  it('never coerces a literal quoted value: port: "6379" is an error', async () => {
    const found = await issues(`${MINIMAL}redis:\n  port: "6379"\n`);
    assert.deepEqual(found, ['8:9: redis.port must be an integer, got string "6379": remove the quotes']);
  });

  it('reports a substituted value of the wrong type with where it came from', async () => {
    const found = await issues(`${MINIMAL}concurrency: \${C}\n`, { C: 'lots' });
    assert.deepEqual(found, ['7:14: concurrency must be an integer, got string "lots" (the value comes from ${C})']);
  });

  it('cannot inject YAML structure through a variable', async () => {
    const loaded = await config(`${MINIMAL}redis:\n  password: \${PW}\n`, { PW: 'a: b\n- c' });
    assert.equal(loaded.redis.password, 'a: b\n- c');
  });
});

describe('defaults', () => {
  it('fill a minimal file into a complete config', async () => {
    const loaded = await config(MINIMAL);
    assert.equal(loaded.version, 1);
    assert.equal(loaded.broker, 'redis');
    assert.equal(loaded.concurrency, 10);
    assert.equal(loaded.resilience.max_retries, 5);
    assert.equal(loaded.resilience.retry_delay_ms, 1000);
    assert.equal(loaded.resilience.retry_backoff, 2);
    assert.equal(loaded.resilience.processing_timeout_ms, 30000);
    assert.deepEqual(loaded.resilience.circuit_breaker, {
      enabled: true,
      failure_threshold: 5,
      reset_timeout_ms: 30000,
      half_open_max_calls: 1,
    });
    assert.deepEqual(loaded.message, { format: 'json', schema: '', max_bytes: 1048576, envelope: 'none' });
    assert.equal(loaded.handler.export, 'default');
    assert.deepEqual(loaded.source.list, {
      key: 'jobs',
      batch_size: 100,
      block_timeout_ms: 1000,
      delivery: 'at-least-once',
      consumer: '',
      heartbeat_ttl_ms: 15000,
      recovery_interval_ms: 5000,
      max_deliveries: 5,
      pop_from: 'right',
    });
    assert.equal(loaded.redis.host, 'localhost');
    assert.equal(loaded.redis.port, 6379);
    assert.equal(loaded.redis.db, 0);
    assert.equal(loaded.redis.tls.reject_unauthorized, true);
    assert.deepEqual(loaded.metrics, {
      enabled: true,
      host: '0.0.0.0',
      port: 9464,
      path: '/metrics',
      redis: { queue_length: true, connection_pool: true, memory_usage: true, interval_ms: 5000 },
    });
    assert.deepEqual(loaded.shutdown, { grace_period_ms: 25000 });
    assert.deepEqual(loaded.dead_letter, {});
    assert.deepEqual(loaded.output, { envelope: 'none' });
  });

  it('fill nested kinds too: stream source, command handler, stream dead letter', async () => {
    const text =
      'name: events\nsource:\n  stream:\n    key: ev\nhandler:\n  command: [node, worker.js]\ndead_letter:\n  stream:\n    key: ev:dead\n';
    const loaded = await config(text);
    assert.equal(loaded.source.stream?.consumer_group, 'pythia');
    assert.equal(loaded.source.stream?.start_id, '$');
    assert.equal(loaded.source.stream?.max_deliveries, 5);
    assert.equal(loaded.source.stream?.trim_strategy, 'maxlen');
    assert.equal(loaded.handler.mode, 'per-message');
    assert.deepEqual(loaded.handler.env, {});
    assert.equal(loaded.handler.cwd, '.');
    assert.equal(loaded.handler.instances, 1);
    assert.deepEqual(loaded.dead_letter.stream, { key: 'ev:dead', max_stream_length: 0 });
  });

  it('keep what the user wrote', async () => {
    const loaded = await config(`${MINIMAL}concurrency: 3\nresilience:\n  max_retries: 0\n`);
    assert.equal(loaded.concurrency, 3);
    assert.equal(loaded.resilience.max_retries, 0);
    assert.equal(loaded.resilience.retry_delay_ms, 1000);
  });
});

describe('CLI usage errors and the other DSL commands', () => {
  const outDir = mkdtempSync(path.join(tmpdir(), 'pythia-types-'));
  after(() => rmSync(outDir, { recursive: true, force: true }));

  it('validate exits 1 for a path that does not exist (invalid input, not a usage error)', async () => {
    const { code, stdout, stderr } = await cli(['validate', 'pipelines/no-such-file.yml']);
    assert.equal(code, 1);
    assert.match(stderr, /no such file or directory: pipelines\/no-such-file\.yml/);
    assert.doesNotMatch(stdout + stderr, STACK_LINE);
  });

  it('validate exits 2 with no arguments', async () => {
    const { code, stdout, stderr } = await cli(['validate']);
    assert.equal(code, 2);
    assert.match(stderr, /missing required argument/);
    assert.doesNotMatch(stdout + stderr, STACK_LINE);
  });

  it('validate exits 1 for a directory without pipeline files', async () => {
    const { code, stderr } = await cli(['validate', 'test/fixtures/support']);
    assert.equal(code, 1);
    assert.match(stderr, /no pipeline files \(\*\.yml, \*\.yaml\)/);
  });

  it('validate exits 2 for an unknown --format', async () => {
    const { code } = await cli(['validate', '--format', 'xml', 'pipelines/']);
    assert.equal(code, 2);
  });

  it('`pythia types pipelines/orders.yml --out DIR` writes the body type OrdersMessageBody', async () => {
    const { code, stderr } = await cli(['types', 'pipelines/orders.yml', '--out', outDir]);
    assert.equal(code, 0, stderr);
    const written = readFileSync(path.join(outDir, 'orders.message.ts'), 'utf8');
    assert.match(written, /export interface OrdersMessageBody \{/);
    assert.match(written, /amount: number;/);
    assert.match(written, /export type Order = OrdersMessageBody;/);
    assert.match(stderr, /OrdersMessageBody/);
  });

  it('`pythia types` alone prints the committed config types', async () => {
    const { code, stdout } = await cli(['types']);
    assert.equal(code, 0);
    assert.equal(stdout, readFileSync(path.join(root, 'src/config/pipeline.types.ts'), 'utf8'));
  });

  it('`pythia types` on an invalid pipeline exits 1 with located errors', async () => {
    const { code, stderr } = await cli(['types', 'test/fixtures/invalid/port-out-of-range.yml', '--out', outDir]);
    assert.equal(code, 1);
    assert.match(stderr, /port-out-of-range\.yml:5:9: redis\.port must be <= 65535/);
    assert.doesNotMatch(stderr, STACK_LINE);
  });

  it('`pythia schema` prints the JSON Schema with its $id', async () => {
    const { code, stdout } = await cli(['schema']);
    assert.equal(code, 0);
    const schema = JSON.parse(stdout) as { $id?: string; properties?: Record<string, unknown> };
    assert.equal(schema.$id, 'https://pythia.dev/schema/pipeline.schema.json');
    assert.ok(schema.properties?.source && schema.properties.handler);
    assert.equal(stdout, readFileSync(path.join(root, 'schema/pipeline.schema.json'), 'utf8'));
  });
});
