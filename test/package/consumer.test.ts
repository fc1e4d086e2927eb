// The package as a user gets it: `npm pack`, installed from the tarball into fresh projects (one
// CommonJS, one ESM), and used only through its public name, its exports and its `pythia` command.
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exited, ROOT } from '../helpers/pipelines.ts';
import { waitFor } from '../helpers/wait.ts';
import { startRedis, type RedisServer } from '../helpers/redis-server.ts';

const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const work = mkdtempSync(path.join(tmpdir(), 'pythia-consumer-'));
let tarball = '';
// Without NODE_TEST_CONTEXT: a `node --test` started here must report to its own stdout, not to this runner.
const { NODE_TEST_CONTEXT: _context, ...baseEnv } = process.env;

function run(
  cwd: string,
  command: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 180_000,
): SpawnSyncReturns<string> {
  return spawnSync(command, args, {
    cwd,
    env: { ...baseEnv, ...env, npm_config_update_notifier: 'false' },
    encoding: 'utf8',
    timeout: timeoutMs,
  });
}

function ok(result: SpawnSyncReturns<string>, what: string): string {
  assert.equal(
    result.status,
    0,
    `${what} failed (${result.status} ${result.signal ?? ''}):\n${result.stdout}\n${result.stderr}\n${result.error?.message ?? ''}`,
  );
  return result.stdout;
}

/** True when something accepts connections on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
  });
}

const ORDER_SCHEMA = {
  title: 'Order',
  type: 'object',
  required: ['id', 'amount'],
  properties: { id: { type: 'integer' }, amount: { type: 'number', minimum: 0 } },
};

const PIPELINE = `# yaml-language-server: $schema=../node_modules/pythia-worker/schema/pipeline.schema.json
version: 1
name: orders
redis: {url: "\${REDIS_URL:-redis://127.0.0.1:6379}"}
source:
  list: {key: orders}
message: {format: json, schema: ./schemas/order.json}
handler: {module: ./handlers/orders.ts, export: handle}
output:
  list: orders:done
metrics: {enabled: false}
`;

const HANDLER = `import { PermanentError, type HandlerContext, type Message } from 'pythia-worker';
import type { Order } from '../../types/orders.message.ts';

export async function handle(message: Message<Order>, context: HandlerContext) {
  if (message.body.amount === 0) throw new PermanentError('empty order');
  const total: number = message.body.amount;
  return { order: message.body.id, total, tenant: message.headers.tenant ?? null, pipeline: context.pipeline };
}
`;

const SEND = `import { Producer } from 'pythia-worker';
import type { Order } from './types/orders.message.ts';

const producer = await Producer.fromPipeline<Order>('pipelines/orders.yml');
try {
  // @ts-expect-error: the generated Order type is checked at compile time (amount is a number)
  if (process.argv[2] === 'never') await producer.send({ id: 1, amount: 'ten' });
  await producer.send({ id: 1, amount: 10 }, { headers: { tenant: 'acme' } });
  const results = await producer.sendMany([{ body: { id: 2, amount: 20 } }, { body: { id: 3, amount: 30 } }]);
  console.log('sent', 1 + results.length);
  await producer.send({ id: 4, amount: -1 }).then(() => console.log('not validated'), (error: Error) => console.log('refused:', error.message));
} finally {
  await producer.close();
}
`;

const HARNESS_TEST = (
  flavor: 'commonjs' | 'module',
) => `${flavor === 'module' ? "import assert from 'node:assert/strict';\nimport { test } from 'node:test';\nimport { PipelineHarness } from 'pythia-worker/testing';" : "const assert = require('node:assert/strict');\nconst { test } = require('node:test');\nconst { PipelineHarness } = require('pythia-worker/testing');"}

test('orders are processed; an empty order is dead-lettered', async () => {
  const h = await PipelineHarness.start('pipelines/orders.yml');
  try {
    await h.push([{ id: 1, amount: 10 }, { id: 2, amount: 0 }]);
    const [done] = await h.results(1);
    assert.equal(done.order, 1);
    const [dead] = await h.deadLetters(1);
    assert.equal(dead.reason, 'permanent_error');
  } finally {
    await h.stop();
  }
});
`;

interface Project {
  dir: string;
  flavor: 'commonjs' | 'module';
}

/** npm in a project directory, asynchronously (the two projects install at the same time). */
function npm(cwd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('npm', args, { cwd, env: { ...baseEnv, npm_config_update_notifier: 'false' }, timeout: 300_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`npm ${args.join(' ')} failed in ${cwd}: ${error.message}\n${stdout}\n${stderr}`));
      else resolve();
    });
  });
}

async function createProject(flavor: Project['flavor']): Promise<Project> {
  const dir = path.join(work, flavor);
  mkdirSync(path.join(dir, 'pipelines/handlers'), { recursive: true });
  mkdirSync(path.join(dir, 'pipelines/schemas'), { recursive: true });
  await npm(dir, ['init', '-y']);
  // npm init -y writes "type": "commonjs"; the ESM project says "module".
  await npm(dir, ['pkg', 'set', `type=${flavor}`]);
  await npm(dir, ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball]);
  writeFileSync(path.join(dir, 'pipelines/orders.yml'), PIPELINE);
  writeFileSync(path.join(dir, 'pipelines/schemas/order.json'), JSON.stringify(ORDER_SCHEMA, null, 2));
  writeFileSync(path.join(dir, 'pipelines/handlers/orders.ts'), HANDLER);
  writeFileSync(path.join(dir, 'send.mts'), SEND);
  writeFileSync(path.join(dir, flavor === 'module' ? 'harness.test.js' : 'harness.test.cjs'), HARNESS_TEST(flavor));
  return { dir, flavor };
}

describe('the packed package in fresh projects', { timeout: 900_000 }, () => {
  let redis: RedisServer;
  const projects: Project[] = [];

  before(async () => {
    redis = await startRedis();
    const packed = ok(run(ROOT, 'npm', ['pack', '--json', '--pack-destination', work], {}, 400_000), 'npm pack');
    const [info] = JSON.parse(packed.slice(packed.indexOf('[\n'))) as {
      filename: string;
      size: number;
      entryCount: number;
      files: { path: string }[];
    }[];
    assert.ok(info);
    tarball = path.join(work, info.filename);
    const files = info.files.map((f) => f.path);
    // Only what a user runs: no tests, no benchmark, no source maps, no TypeScript sources of the package.
    assert.deepEqual(
      files.filter((f) => /^(test|bench|src|scripts)\/|\/bench\/|\.map$/.test(f)),
      [],
    );
    for (const needed of [
      'LICENSE',
      'bin/pythia.js',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cjs-types/index.d.ts',
      'pipelines/orders.yml',
    ])
      assert.ok(files.includes(needed), needed);
    projects.push(...(await Promise.all((['commonjs', 'module'] as const).map(createProject))));
  });

  after(async () => {
    await redis?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('types: a handler and a typed producer check under node16, nodenext and bundler resolution (Producer<Order> rejects a wrong body)', () => {
    for (const { dir, flavor } of projects) {
      ok(run(dir, 'npx', ['pythia', 'types', 'pipelines/orders.yml', '--out', 'types']), 'pythia types');
      // CommonJS is the case that needs its own declarations (node16 refuses ESM ones); ESM covers the rest.
      const modes =
        flavor === 'commonjs'
          ? [
              ['node16', 'node16'],
              ['nodenext', 'nodenext'],
            ]
          : [
              ['nodenext', 'nodenext'],
              ['preserve', 'bundler'],
            ];
      for (const [module, resolution] of modes) {
        // skipLibCheck off once (our declarations must compile on their own), on for the other runs (time).
        const tsconfig = {
          compilerOptions: {
            module,
            moduleResolution: resolution,
            target: 'es2022',
            strict: true,
            noEmit: true,
            skipLibCheck: module !== 'node16',
            allowImportingTsExtensions: true,
            types: ['node'],
            typeRoots: [path.join(ROOT, 'node_modules/@types')],
          },
          include: ['pipelines/handlers/orders.ts', 'send.mts'],
        };
        writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
        ok(run(dir, process.execPath, [TSC, '-p', '.']), `tsc (${flavor}, ${resolution})`);
      }
      // The @ts-expect-error above would itself be an error if the wrong body were accepted; check the other way too.
      writeFileSync(
        path.join(dir, 'wrong.mts'),
        "import { Producer } from 'pythia-worker';\nimport type { Order } from './types/orders.message.ts';\ndeclare const p: Producer<Order>;\nvoid p.send({ id: 1 });\n",
      );
      writeFileSync(
        path.join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module: 'nodenext',
            strict: true,
            noEmit: true,
            allowImportingTsExtensions: true,
            types: ['node'],
            typeRoots: [path.join(ROOT, 'node_modules/@types')],
          },
          include: ['wrong.mts'],
        }),
      );
      const wrong = run(dir, process.execPath, [TSC, '-p', '.']);
      assert.notEqual(wrong.status, 0);
      assert.match(wrong.stdout, /amount/);
      rmSync(path.join(dir, 'wrong.mts'));
    }
  });

  it('import and require() of the package both work', () => {
    for (const { dir } of projects) {
      const required = ok(
        run(dir, process.execPath, [
          '-e',
          "const p = require('pythia-worker'); const t = require('pythia-worker/testing'); console.log(typeof p.Producer, typeof p.Worker, typeof p.PermanentError, typeof t.PipelineHarness)",
        ]),
        'require',
      );
      assert.equal(required.trim(), 'function function function function');
      const imported = ok(
        run(dir, process.execPath, [
          '--input-type=module',
          '-e',
          "import { Producer, startWorker } from 'pythia-worker'; import { startRedis } from 'pythia-worker/testing'; console.log(typeof Producer, typeof startWorker, typeof startRedis)",
        ]),
        'import',
      );
      assert.equal(imported.trim(), 'function function function');
    }
  });

  it('npx pythia --version and validate (the .ts handler loads in both module systems)', () => {
    for (const { dir, flavor } of projects) {
      assert.equal(ok(run(dir, 'npx', ['pythia', '--version']), 'pythia --version').trim(), version);
      const validate = ok(run(dir, 'npx', ['pythia', 'validate', 'pipelines/'], { REDIS_URL: redis.url }), `pythia validate (${flavor})`);
      assert.match(validate, /1 pipeline valid/);
    }
  });

  it('a PipelineHarness test passes (require in CommonJS, import in ESM)', () => {
    for (const { dir, flavor } of projects) {
      const output = ok(
        run(dir, process.execPath, ['--test', '--test-reporter=tap', flavor === 'module' ? 'harness.test.js' : 'harness.test.cjs']),
        `harness test (${flavor})`,
      );
      assert.match(output, /^# pass 1$/m, output);
    }
  });

  it('the Producer sends (validated against message.schema, headers included) and npx pythia run processes', async () => {
    for (const { dir, flavor } of projects) {
      const client = redis.client();
      await client.del('orders', 'orders:done', 'orders:dead');
      const sent = ok(run(dir, process.execPath, ['--import', 'tsx', 'send.mts'], { REDIS_URL: redis.url }), `producer (${flavor})`);
      assert.match(sent, /sent 3/);
      assert.match(sent, /refused: .*amount/);
      // The installed command itself rather than npx, so that SIGTERM reaches it (npx dies of it).
      const worker = spawn(path.join(dir, 'node_modules/.bin/pythia'), ['run', 'pipelines/orders.yml'], {
        cwd: dir,
        env: { ...process.env, REDIS_URL: redis.url, PYTHIA_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      worker.stdout.on('data', (d: Buffer) => (output += d.toString()));
      worker.stderr.on('data', (d: Buffer) => (output += d.toString()));
      try {
        await waitFor(
          () => `three orders processed (${flavor}): ${output}`,
          async () => (await client.llen('orders:done')) === 3,
          { timeoutMs: 60_000 },
        );
      } finally {
        worker.kill('SIGTERM');
      }
      assert.equal(await exited(worker), 0, output);
      const done = (await client.lrange('orders:done', 0, -1)).map((r) => JSON.parse(r) as { order: number; tenant: string | null });
      assert.deepEqual(done.map((d) => d.order).sort(), [1, 2, 3]);
      assert.equal(done.find((d) => d.order === 1)?.tenant, 'acme', 'the header reached the handler');
      client.disconnect();
    }
  });

  it('npx pythia demo runs from the installed package and stops its redis-server, also on SIGTERM and SIGINT', async () => {
    const [{ dir }] = projects as [Project];
    const env = { ...process.env, REDIS_URL: '' };
    const demo = run(dir, 'npx', ['pythia', 'demo', '--count', '200'], env);
    ok(demo, 'pythia demo');
    assert.match(demo.stdout, /processed 200 of 200/);
    const port = Number(/private redis-server on port (\d+)/.exec(demo.stdout)?.[1]);
    assert.equal(await listening(port), false, 'the demo stopped its redis-server');
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      // The installed command itself (not npx), so that the signal reaches it.
      const child = spawn(path.join(dir, 'node_modules/.bin/pythia'), ['demo', '--count', '1000000'], {
        cwd: dir,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      await waitFor(
        () => `the demo pipeline running: ${output}`,
        () => /pipeline orders:/.test(output),
        { timeoutMs: 60_000 },
      );
      const signalPort = Number(/private redis-server on port (\d+)/.exec(output)?.[1]);
      assert.equal(await listening(signalPort), true);
      child.kill(signal);
      const code = await exited(child);
      assert.equal(code, signal === 'SIGINT' ? 130 : 143, output);
      assert.equal(await listening(signalPort), false, `${signal}: the redis-server is gone`);
    }
  });
});
