import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, RedisServer } from './redis-server.ts';
import { ServerProcess, oneShot } from './server-process.ts';
import { waitFor } from './wait-for.ts';

/**
 * A private Sentinel setup for one test file: one master, one replica (--replicaof the master) and
 * one sentinel (`redis-server sentinel.conf --sentinel`, quorum 1), all on free ports in temp dirs.
 * `failover()` runs SENTINEL FAILOVER and waits until the replica is the master and the old master
 * follows it. Never touches a shared Redis.
 */
export class RedisSentinelSetup {
  readonly name = 'mymaster';
  readonly master: RedisServer;
  /** Created by start(), once the master's port is known. */
  replica!: RedisServer;
  readonly dir: string;
  sentinelPort = 0;
  private sentinel: ServerProcess | undefined;
  private readonly clients: Redis[] = [];

  constructor(private readonly options: { downAfterMs?: number; appendonly?: boolean } = {}) {
    this.master = new RedisServer({ appendonly: options.appendonly, args: FAST_SYNC });
    this.dir = mkdtempSync(path.join(tmpdir(), 'pythia-sentinel-'));
  }

  /** redis://127.0.0.1:S of the sentinel, for `redis.sentinel.nodes`. */
  get sentinelUrls(): string[] {
    return [`redis://127.0.0.1:${this.sentinelPort}`];
  }

  async start(): Promise<this> {
    this.master.port = await freePort();
    this.replica = new RedisServer({
      appendonly: this.options.appendonly,
      args: [...FAST_SYNC, '--replicaof', '127.0.0.1', String(this.master.port)],
    });
    await Promise.all([this.master.start(), this.replica.start()]);
    await waitFor(
      'the replica to sync with the master',
      async () => (await this.info(this.replica.port, 'replication')).includes('master_link_status:up'),
      { timeoutMs: 15_000 },
    );

    this.sentinelPort = await freePort();
    const conf = path.join(this.dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${this.sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${this.dir}`,
        `logfile ${path.join(this.dir, 'sentinel.log')}`,
        `sentinel monitor ${this.name} 127.0.0.1 ${this.master.port} 1`,
        `sentinel down-after-milliseconds ${this.name} ${this.options.downAfterMs ?? 2000}`,
        `sentinel failover-timeout ${this.name} 10000`,
        `sentinel parallel-syncs ${this.name} 1`,
        '',
      ].join('\n'),
    );
    this.sentinel = new ServerProcess([conf, '--sentinel'], path.join(this.dir, 'sentinel.log'), () => this.ping(this.sentinelPort));
    await this.sentinel.start();
    // A failover needs a replica the sentinel knows and has heard from.
    await waitFor(
      'the sentinel to discover the replica',
      async () => {
        const replicas = (await this.sentinelCommand('REPLICAS', this.name)) as string[][];
        return replicas.some(
          (fields) => field(fields, 'port') === String(this.replica.port) && !/s_down|disconnected/.test(field(fields, 'flags') ?? ''),
        );
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    return this;
  }

  /** The port of the master as the sentinel sees it now. */
  async masterPort(): Promise<number> {
    const [, port] = (await this.sentinelCommand('GET-MASTER-ADDR-BY-NAME', this.name)) as [string, string];
    return Number(port);
  }

  /**
   * SENTINEL FAILOVER (retried while the sentinel answers NOGOODSLAVE / INPROG); resolves once the
   * sentinel announces the other server as master (+switch-master) and that server reports
   * role:master. Returns the new master's port. The old master is reconfigured as a replica only
   * later (at the sentinel's next 10 s INFO round): see `oldMasterFollows()`.
   */
  async failover(timeoutMs = 20_000): Promise<number> {
    const before = await this.masterPort();
    const target = before === this.master.port ? this.replica.port : this.master.port;
    await waitFor(
      'SENTINEL FAILOVER to be accepted',
      async () => {
        try {
          return (await this.sentinelCommand('FAILOVER', this.name)) === 'OK';
        } catch (error) {
          if (/NOGOODSLAVE|INPROG/.test((error as Error).message)) return false;
          throw error;
        }
      },
      { timeoutMs, intervalMs: 200 },
    );
    await waitFor('the sentinel to switch to the new master', async () => (await this.masterPort()) === target, {
      timeoutMs,
      intervalMs: 50,
    });
    await waitFor('the new master to report role:master', async () => (await this.info(target, 'replication')).includes('role:master'), {
      timeoutMs,
      intervalMs: 50,
    });
    return target;
  }

  /** Waits until the server on `port` (a former master) replicates from `masterPort` with a live link. */
  async oldMasterFollows(port: number, masterPort: number, timeoutMs = 20_000): Promise<void> {
    await waitFor(
      'the old master to replicate from the new one',
      async () => {
        const info = await this.info(port, 'replication');
        return info.includes('role:slave') && info.includes(`master_port:${masterPort}`) && info.includes('master_link_status:up');
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  /** A plain client of one server (by port) for assertions; closed by stop(). */
  client(port: number): Redis {
    const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: null });
    client.on('error', () => {});
    this.clients.push(client);
    return client;
  }

  private async sentinelCommand(...args: string[]): Promise<unknown> {
    return oneShot({ port: this.sentinelPort }, (c) => c.call('SENTINEL', ...args));
  }

  private async info(port: number, section: string): Promise<string> {
    return oneShot({ port }, (c) => c.info(section));
  }

  private async ping(port: number): Promise<boolean> {
    try {
      return (await oneShot({ port }, (c) => c.ping())) === 'PONG';
    } catch {
      return false;
    }
  }

  async stop(): Promise<void> {
    for (const client of this.clients.splice(0)) client.disconnect();
    await this.sentinel?.kill();
    const replica: RedisServer | undefined = this.replica;
    await Promise.all([this.master.stop(), replica?.stop()]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Full syncs start at once (the default waits 5 s for more replicas to join a diskless sync). */
const FAST_SYNC = ['--repl-diskless-sync-delay', '0'];

function field(flat: string[], name: string): string | undefined {
  const i = flat.indexOf(name);
  return i >= 0 && i % 2 === 0 ? flat[i + 1] : undefined;
}

export async function startRedisSentinel(options: { downAfterMs?: number; appendonly?: boolean } = {}): Promise<RedisSentinelSetup> {
  const setup = new RedisSentinelSetup(options);
  try {
    return await setup.start();
  } catch (error) {
    await setup.stop();
    throw error;
  }
}
