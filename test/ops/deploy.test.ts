// The Dockerfile, docker-compose.yml and deploy/redis.conf, checked without a Docker engine:
// what they copy and mount exists, the entrypoint runs, the compose file parses, and the Redis
// configuration is accepted by a real redis-server.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { parse } from 'yaml';
import { freePort } from '../../src/testing/index.ts';
import { ROOT } from '../helpers/pipelines.ts';
import { waitFor } from '../helpers/wait.ts';

const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
/** Instructions with continuation lines joined and comments dropped. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const dockerignore = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

interface Compose {
  services: Record<
    string,
    {
      image?: string;
      build?: { context: string; args?: Record<string, string> };
      command?: string[];
      environment?: string[];
      volumes?: string[];
      ports?: string[];
      deploy?: { replicas?: number };
    }
  >;
  volumes?: Record<string, unknown>;
}
const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as Compose;

const pythia = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(ROOT, 'bin/pythia.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, PYTHIA_LOG_LEVEL: 'warn' },
  });

describe('Dockerfile', () => {
  it('is multi-stage on an exactly pinned Node LTS (22 or 24), non-root, with the pythia entrypoint behind tini, default command and /livez healthcheck', () => {
    const from = instructions.filter((l) => l.startsWith('FROM '));
    assert.ok(from.length >= 2, 'multi-stage');
    for (const f of from) assert.match(f, /^FROM node:\$\{NODE_VERSION\}-bookworm-slim\b/);
    // A full major.minor.patch of an LTS line: `node:22-slim` or `node:lts` would float.
    assert.match(instructions.find((l) => l.startsWith('ARG NODE_VERSION=')) ?? '', /^ARG NODE_VERSION=(22|24)\.\d+\.\d+$/);
    const user = instructions.filter((l) => l.startsWith('USER ')).at(-1);
    assert.ok(user && !/USER (root|0)\b/.test(user), `runs as non-root (${user})`);
    // tini as PID 1 reaps orphaned handler processes (test/ops/init-reaping.test.ts runs it).
    assert.deepEqual(JSON.parse(instructions.find((l) => l.startsWith('ENTRYPOINT '))?.slice(11) ?? 'null'), [
      '/usr/bin/tini',
      '--',
      'node',
      'bin/pythia.js',
    ]);
    const install = instructions.find((l) => l.startsWith('RUN apt-get update')) ?? '';
    assert.match(install, /apt-get install -y --no-install-recommends tini /);
    assert.match(install, /rm -rf \/var\/lib\/apt\/lists/);
    assert.deepEqual(JSON.parse(instructions.find((l) => l.startsWith('CMD '))?.slice(4) ?? 'null'), ['run', '/app/pipelines']);
    const health = instructions.find((l) => l.startsWith('HEALTHCHECK ')) ?? '';
    assert.match(health, /127\.0\.0\.1:9464\/livez/);
    assert.doesNotMatch(health, /curl|wget/, 'no curl in a slim image: node fetch');
    assert.match(dockerfile, /npm ci --omit=dev/, 'production dependencies only in the final stage');
  });

  it('has a python3 variant for command handlers (build arg WITH_PYTHON), documented in the file', () => {
    assert.ok(instructions.includes('ARG WITH_PYTHON=false'));
    const install = instructions.find((l) => l.startsWith('RUN apt-get update')) ?? '';
    assert.match(install, /if \[ "\$WITH_PYTHON" = "true" \]; then echo python3; fi/);
    assert.match(dockerfile, /docker build --build-arg WITH_PYTHON=true -t pythia:python \./);
    // The shipped pipelines that the Dockerfile's run example mounts do use python3.
    assert.match(readFileSync(path.join(ROOT, 'pipelines/tasks-command-persistent.yml'), 'utf8'), /python3/);
  });

  it('copies only files that exist and that .dockerignore does not exclude', () => {
    const copies = instructions.filter((l) => l.startsWith('COPY ') && !l.includes('--from='));
    assert.ok(copies.length > 0);
    for (const copy of copies) {
      const parts = copy
        .split(/\s+/)
        .slice(1)
        .filter((p) => !p.startsWith('--'));
      for (const source of parts.slice(0, -1)) {
        assert.ok(existsSync(path.join(ROOT, source)), `${copy}: ${source} exists`);
        const top = source.split('/')[0];
        assert.ok(!dockerignore.includes(top as string) && !dockerignore.includes(source), `${source} is not in .dockerignore`);
      }
    }
    // What the final stage takes from the build stage is what `npm run build` produces.
    assert.match(dockerfile, /COPY --from=build \/app\/dist \.\/dist/);
    const build = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { outDir: string } };
    assert.equal(build.compilerOptions.outDir, 'dist');
  });

  it('the entrypoint command runs: `node bin/pythia.js --help` and `validate pipelines/`', () => {
    const help = pythia('--help');
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /run/);
    const validate = pythia('validate', 'pipelines/');
    assert.equal(validate.status, 0, validate.stdout + validate.stderr);
  });
});

describe('docker-compose.yml', () => {
  it('mirrors the Python Pythia deployment: redis:7-alpine and a worker with replicas: 3 and the PYTHIA_* / REDIS_* environment', () => {
    const { redis, 'pythia-worker': worker } = compose.services;
    assert.equal(redis?.image, 'redis:7-alpine');
    assert.equal(worker?.deploy?.replicas, 3);
    const env = Object.fromEntries((worker?.environment ?? []).map((e) => e.split('=') as [string, string]));
    assert.deepEqual(Object.keys(env).sort(), ['PYTHIA_BROKER_TYPE', 'PYTHIA_MAX_CONCURRENT', 'REDIS_HOST', 'REDIS_QUEUE']);
    assert.equal(env.PYTHIA_BROKER_TYPE, 'redis');
    assert.equal(env.REDIS_HOST, 'redis');
    assert.ok(compose.volumes && 'redis_data' in compose.volumes);
  });

  it("publishes the password-less Redis on the host's loopback only, or not at all", () => {
    for (const port of compose.services.redis?.ports ?? []) assert.match(port, /^127\.0\.0\.1:\d+:6379$/, port);
    assert.equal(compose.services['pythia-worker']?.ports, undefined, 'metrics stay inside the compose network');
  });

  it('references paths that exist, and the worker command validates with the compose environment', () => {
    const { 'pythia-worker': worker } = compose.services;
    assert.ok(existsSync(path.join(ROOT, worker?.build?.context ?? '-', 'Dockerfile')));
    assert.deepEqual(Object.keys(worker?.build?.args ?? {}), ['WITH_PYTHON']);
    const mounts = new Map<string, string>();
    for (const service of Object.values(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const [host, container] = volume.split(':') as [string, string];
        if (!host.startsWith('.')) continue; // named volume
        assert.ok(existsSync(path.join(ROOT, host)), `${volume}: ${host} exists`);
        mounts.set(container, host);
      }
    }
    // The command's container path maps through a bind mount to a file in this repository.
    const command = worker?.command ?? [];
    assert.equal(command[0], 'run');
    const target = command[1] as string;
    const mount = [...mounts.keys()].find((c) => target.startsWith(c));
    assert.ok(mount, `${target} is under a bind mount`);
    const local = path.join(ROOT, mounts.get(mount) as string, target.slice(mount.length));
    assert.ok(existsSync(local), local);
    const env = Object.fromEntries((worker?.environment ?? []).map((e) => e.split('=') as [string, string]));
    const validate = spawnSync(process.execPath, [path.join(ROOT, 'bin/pythia.js'), 'validate', local], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
    });
    assert.equal(validate.status, 0, validate.stdout + validate.stderr);
    assert.match(validate.stdout, /list production-queue/, 'REDIS_QUEUE reaches the pipeline');
    assert.match(validate.stdout, /concurrency 10/, 'PYTHIA_MAX_CONCURRENT reaches the pipeline');
  });

  it('deploy/redis.conf has the Python Pythia production settings, uses noeviction, and a real redis-server accepts it', async () => {
    const conf = readFileSync(path.join(ROOT, 'deploy/redis.conf'), 'utf8');
    const active = conf.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
    for (const line of ['maxmemory 2gb', 'maxmemory-policy noeviction', 'appendonly yes', 'appendfsync everysec'])
      assert.ok(active.includes(line), line);
    assert.match(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), /allkeys-lru`? can EVICT QUEUES/i);

    const dir = mkdtempSync(path.join(tmpdir(), 'pythia-conf-'));
    const port = await freePort();
    const child = spawn(
      'redis-server',
      [path.join(ROOT, 'deploy/redis.conf'), '--dir', dir, '--port', String(port), '--bind', '127.0.0.1', '--save', ''],
      { stdio: 'ignore' },
    );
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    client.on('error', () => {});
    try {
      await waitFor('redis-server started with the file', async () => (await client.ping().catch(() => '')) === 'PONG', {
        timeoutMs: 10_000,
      });
      assert.deepEqual(await client.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'noeviction']);
      assert.deepEqual(await client.config('GET', 'appendfsync'), ['appendfsync', 'everysec']);
    } finally {
      client.disconnect();
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
