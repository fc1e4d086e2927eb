import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { killAndWait, killWithParent, oneShot } from './server-process.ts';

/**
 * A private redis-server for one test file: its own free port and temp dir, never a shared Redis.
 * `stop()` kills it and removes the dir; `restart()` keeps the dir (and its AOF) and the port.
 */
export interface RedisServerOptions {
  appendonly?: boolean;
  password?: string;
  /** Extra redis-server arguments, e.g. ['--maxmemory', '100mb']. */
  args?: string[];
}

export function findRedisServer(): string {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'redis-server was not found on the PATH. The integration tests start their own private redis-server: install it with `sudo apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis` (macOS).',
    );
  }
  return 'redis-server';
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export class RedisServer {
  readonly dir: string;
  port = 0;
  private child: ChildProcess | undefined;
  private readonly clients: Redis[] = [];

  constructor(private readonly options: RedisServerOptions = {}) {
    this.dir = mkdtempSync(path.join(tmpdir(), 'pythia-redis-'));
  }

  get url(): string {
    const auth = this.options.password ? `:${encodeURIComponent(this.options.password)}@` : '';
    return `redis://${auth}127.0.0.1:${this.port}/0`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<this> {
    const binary = findRedisServer();
    if (this.port === 0) this.port = await freePort();
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--daemonize',
      'no',
      '--logfile',
      path.join(this.dir, 'redis.log'),
      '--appendonly',
      this.options.appendonly ? 'yes' : 'no',
      '--appendfsync',
      'always',
    ];
    if (this.options.password) args.push('--requirepass', this.options.password);
    args.push(...(this.options.args ?? []));
    const child = spawn(binary, args, { stdio: 'ignore' });
    this.child = child;
    killWithParent(child);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null)
        throw new Error(`redis-server exited with code ${child.exitCode}; see ${path.join(this.dir, 'redis.log')}`);
      if (await this.ping()) return this;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`redis-server did not start on port ${this.port} within 10 s`);
  }

  private async ping(): Promise<boolean> {
    try {
      return (await oneShot({ port: this.port, password: this.options.password }, (c) => c.ping())) === 'PONG';
    } catch {
      return false;
    }
  }

  /** A client for assertions; closed by stop(). */
  client(): Redis {
    const client = new Redis(this.url, { maxRetriesPerRequest: null });
    client.on('error', () => {});
    this.clients.push(client);
    return client;
  }

  /** Sends a signal to the server process (SIGKILL, SIGSTOP, SIGCONT ...). */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  async kill(): Promise<void> {
    await killAndWait(this.child);
  }

  /** Kill -9 and start again on the same port and dir (with appendonly, the data survives). */
  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  async stop(): Promise<void> {
    for (const client of this.clients.splice(0)) client.disconnect();
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  return new RedisServer(options).start();
}
