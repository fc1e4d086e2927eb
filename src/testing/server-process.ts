import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';

/**
 * A redis-server process (plain, sentinel or TLS) that the RedisServer harness cannot start as is:
 * spawned with the given arguments, ready when `probe()` says so, killed with SIGKILL.
 * Used by the sentinel and TLS harness pieces; the log file is quoted when it fails to start.
 */
export class ServerProcess {
  private child: ChildProcess | undefined;

  constructor(
    private readonly args: string[],
    private readonly logFile: string,
    private readonly probe: () => Promise<boolean>,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(timeoutMs = 10_000): Promise<void> {
    const child = spawn('redis-server', this.args, { stdio: 'ignore' });
    killWithParent(child);
    this.child = child;
    child.on('error', () => {});
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null)
        throw new Error(`redis-server ${this.args.slice(0, 2).join(' ')} exited with code ${child.exitCode}: ${tail(this.logFile)}`);
      if (await this.probe()) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    await this.kill();
    throw new Error(`redis-server ${this.args.slice(0, 2).join(' ')} was not ready within ${timeoutMs} ms: ${tail(this.logFile)}`);
  }

  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  async kill(): Promise<void> {
    await killAndWait(this.child);
  }
}

/** The last lines of a server log, for error messages. */
export function tail(file: string, lines = 8): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join(' | ');
  } catch {
    return `(no log at ${file})`;
  }
}

/** A process that ends without stopping its servers (an uncaught error, process.exit) must not leave them behind. */
export function killWithParent(child: ChildProcess): void {
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.removeListener('exit', reap));
}

/** kill -9 and wait for the exit; nothing to do for a process that already ended. */
export async function killAndWait(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** Runs one command on a throwaway connection that never retries or queues (for readiness probes). */
export async function oneShot<T>(options: RedisOptions, run: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    connectTimeout: 2000,
    ...options,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await run(client);
  } finally {
    client.disconnect();
  }
}
