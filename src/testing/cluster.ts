import { spawnSync } from 'node:child_process';
import { Cluster, Redis } from 'ioredis';
import { freePort, RedisServer } from './redis-server.ts';
import { waitFor } from './wait-for.ts';

/**
 * A private Redis Cluster for one test file: `masters` redis-servers started with
 * --cluster-enabled (each with its own temp dir, client port and cluster bus port), joined by
 * `redis-cli --cluster create ... --cluster-replicas R` (R replicas per master, 0 by default), and
 * ready once every node reports cluster_state:ok and every replica's link to its master is up.
 * Never touches a shared Redis.
 */
export class RedisCluster {
  readonly nodes: RedisServer[] = [];
  private readonly clients: (Cluster | Redis)[] = [];

  constructor(
    private readonly masters = 3,
    private readonly replicas = 0,
  ) {}

  /** redis://127.0.0.1:P for every node, for `redis.cluster.nodes`. */
  get urls(): string[] {
    return this.nodes.map((node) => `redis://127.0.0.1:${node.port}`);
  }

  async start(): Promise<this> {
    for (let i = 0; i < this.masters * (1 + this.replicas); i++) {
      // The bus port defaults to port + 10000, which may be taken or above 65535: pick it too.
      const bus = await freePort();
      this.nodes.push(
        new RedisServer({
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-port',
            String(bus),
            '--cluster-node-timeout',
            '3000',
            '--cluster-require-full-coverage',
            'yes',
          ],
        }),
      );
    }
    await Promise.all(this.nodes.map((node) => node.start()));
    const create = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...this.nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        String(this.replicas),
        '--cluster-yes',
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    if (create.error || create.status !== 0) {
      throw new Error(
        `redis-cli --cluster create failed (${create.error?.message ?? `exit ${create.status}`}): ${(create.stdout + create.stderr).trim().split('\n').slice(-5).join(' | ')}`,
      );
    }
    await waitFor(
      'cluster_state:ok on every node',
      async () => {
        for (const node of this.nodes) {
          const probe = new Redis({
            host: '127.0.0.1',
            port: node.port,
            lazyConnect: true,
            maxRetriesPerRequest: 0,
            retryStrategy: () => null,
          });
          probe.on('error', () => {});
          try {
            await probe.connect();
            const info = await probe.cluster('INFO');
            if (!info.includes('cluster_state:ok')) return false;
            // Every node must also know every other node's slots, or ioredis may be told stale ones.
            const slots = await probe.cluster('SLOTS');
            if (slots.length < this.masters) return false;
            // ... and every master's replicas, or a failover test may find a shard without one.
            if (slots.some((range) => range.length < 3 + this.replicas)) return false;
            const replication = await probe.info('replication');
            if (replication.includes('role:slave') && !replication.includes('master_link_status:up')) return false;
          } finally {
            probe.disconnect();
          }
        }
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    return this;
  }

  /** The node serving a key's slot now, and its replicas (by port), as CLUSTER SLOTS on a live node says. */
  async slotOwner(key: string): Promise<{ master: number; replicas: number[] }> {
    for (const node of this.nodes) {
      const probe = new Redis({
        host: '127.0.0.1',
        port: node.port,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        connectTimeout: 1000,
      });
      probe.on('error', () => {});
      try {
        await probe.connect();
        const slot = (await probe.cluster('KEYSLOT', key)) as number;
        const ranges = await probe.cluster('SLOTS');
        const range = ranges.find(([from, to]) => slot >= from && slot <= to);
        const [, , master, ...replicas] = range ?? [];
        if (!master) continue;
        return { master: master[1], replicas: replicas.map((r) => r[1]) };
      } catch {
        // A dead node: ask the next one.
      } finally {
        probe.disconnect();
      }
    }
    throw new Error(`no live node knows the owner of ${key}`);
  }

  /** The node (harness) listening on a port. */
  node(port: number): RedisServer {
    const node = this.nodes.find((n) => n.port === port);
    if (!node) throw new Error(`no cluster node on port ${port}`);
    return node;
  }

  /** An ioredis Cluster client for assertions; closed by stop(). */
  client(): Cluster {
    const client = new Cluster(
      this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
      { redisOptions: { maxRetriesPerRequest: null } },
    );
    client.on('error', () => {});
    this.clients.push(client);
    return client;
  }

  /** A plain client of one node (for per-node assertions such as CLUSTER KEYSLOT or DBSIZE). */
  nodeClient(index: number): Redis {
    const node = this.nodes[index];
    if (!node) throw new Error(`no cluster node ${index}`);
    const client = new Redis({ host: '127.0.0.1', port: node.port, maxRetriesPerRequest: null });
    client.on('error', () => {});
    this.clients.push(client);
    return client;
  }

  async stop(): Promise<void> {
    for (const client of this.clients.splice(0)) client.disconnect();
    await Promise.all(this.nodes.map((node) => node.stop()));
  }
}

export async function startRedisCluster(masters = 3, replicas = 0): Promise<RedisCluster> {
  const cluster = new RedisCluster(masters, replicas);
  try {
    return await cluster.start();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

/** Whether redis-cli (needed to create the cluster) is on the PATH; a reason to skip when it is not. */
export function clusterUnsupportedReason(): string | undefined {
  const cli = spawnSync('redis-cli', ['--version'], { encoding: 'utf8' });
  if (cli.error || cli.status !== 0)
    return 'redis-cli is not on the PATH: it is needed to create the test cluster (redis-cli --cluster create)';
  return undefined;
}
