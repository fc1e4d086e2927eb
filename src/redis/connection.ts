import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { PipelineConfig } from '../config/index.ts';

export type RedisClient = Redis | Cluster;

export interface ConnectionPlan {
  /** How to make one connection; `role` becomes the client name, and blocking connections get no command timeout. */
  create(role: string, options?: { blocking?: boolean; blockMs?: number; subscriber?: boolean }): RedisClient;
  /** host:port (or cluster/sentinel), without credentials: safe to log. */
  describe: string;
}

/** Translates the redis section of a pipeline into ioredis clients. `overrideUrl` replaces url/host/port/db. */
export function planConnection(redis: PipelineConfig['redis'], baseDir: string, pipeline: string, overrideUrl?: string): ConnectionPlan {
  const tls = tlsOptions(redis, baseDir, overrideUrl ?? redis.url);
  const common = (role: string, options: { blocking?: boolean; blockMs?: number; subscriber?: boolean }): RedisOptions => ({
    connectionName: `pythia:${pipeline}:${role}`,
    connectTimeout: redis.connection_timeout_ms,
    keepAlive: redis.socket_keepalive ? 30_000 : undefined,
    // A command never fails just because Redis is briefly away: it waits in the offline queue and is
    // resent after the reconnect. That is what keeps acks and dead letters from being lost.
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    // retry_on_timeout: a command cut off by a socket timeout (or a reconnect) is sent again on the new
    // connection. Off, it fails and the caller's own retry applies (acks and dead letters are retried).
    autoResendUnfulfilledCommands: redis.retry_on_timeout,
    enableAutoPipelining: !options.blocking && !options.subscriber,
    socketTimeout:
      redis.socket_timeout_ms > 0 ? redis.socket_timeout_ms + (options.blocking ? (options.blockMs ?? 0) + 1000 : 0) : undefined,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), 2000),
    reconnectOnError: (error) => (/READONLY|LOADING/.test(error.message) ? 2 : false),
    lazyConnect: false,
    tls,
  });

  if (redis.cluster && !overrideUrl) {
    const seeds = redis.cluster.nodes.map((node) => new URL(node));
    const nodes = seeds.map((u) => ({ host: u.hostname, port: Number(u.port || 6379) }));
    // Credentials: the first seed URL that carries them, else redis.username / redis.password.
    const withAuth = seeds.find((u) => u.username !== '' || u.password !== '');
    const username = (withAuth && decodeURIComponent(withAuth.username)) || redis.username || undefined;
    const password = (withAuth && decodeURIComponent(withAuth.password)) || redis.password || undefined;
    return {
      describe: `cluster ${nodes.map((n) => `${n.host}:${n.port}`).join(',')}`,
      create: (role, options = {}) => {
        const redisOptions = common(role, options);
        const clusterOptions: ClusterOptions = {
          // A cluster has only database 0: db is never sent (validation rejects another).
          redisOptions: { ...redisOptions, username, password },
          enableAutoPipelining: redisOptions.enableAutoPipelining,
          enableOfflineQueue: true,
          enableReadyCheck: true,
          // Slots move (resharding, failover of a shard): follow MOVED/ASK, refresh the map, keep going.
          maxRedirections: 16,
          retryDelayOnFailover: 200,
          retryDelayOnClusterDown: 200,
          retryDelayOnTryAgain: 100,
          slotsRefreshTimeout: Math.max(1000, Math.min(redis.connection_timeout_ms, 5000)),
          clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
          dnsLookup: (address, callback) => callback(null, address),
        };
        return new Cluster(nodes, clusterOptions);
      },
    };
  }

  if (redis.sentinel && !overrideUrl) {
    const seeds = redis.sentinel.nodes.map((node) => new URL(node));
    const sentinels = seeds.map((u) => ({ host: u.hostname, port: Number(u.port || 26379) }));
    const withAuth = seeds.find((u) => u.username !== '' || u.password !== '');
    const sentinelTls = seeds.some((u) => u.protocol === 'rediss:');
    return {
      describe: `sentinel ${redis.sentinel.name} via ${sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`,
      create: (role, options = {}) =>
        new Redis({
          ...common(role, options),
          sentinels,
          name: redis.sentinel?.name,
          role: 'master',
          sentinelUsername: (withAuth && decodeURIComponent(withAuth.username)) || undefined,
          sentinelPassword: redis.sentinel?.password || (withAuth && decodeURIComponent(withAuth.password)) || undefined,
          enableTLSForSentinelMode: sentinelTls,
          sentinelTLS: sentinelTls ? tls : undefined,
          // Subscribes to +switch-master on the sentinels: a failover moves every connection to the
          // new master at once instead of waiting for a READONLY reply or a socket error.
          failoverDetector: true,
          sentinelRetryStrategy: (times) => Math.min(100 * times, 2000),
          username: redis.username || undefined,
          password: redis.password || undefined,
          db: redis.db,
        }),
    };
  }

  const url = overrideUrl ?? redis.url;
  if (url) {
    const parsed = new URL(url);
    return {
      describe: `${parsed.hostname}:${parsed.port || 6379}/${parsed.pathname.slice(1) || '0'}`,
      create: (role, options = {}) => new Redis(url, common(role, options)),
    };
  }
  return {
    describe: `${redis.host}:${redis.port}/${redis.db}`,
    create: (role, options = {}) =>
      new Redis({
        ...common(role, options),
        host: redis.host,
        port: redis.port,
        db: redis.db,
        username: redis.username || undefined,
        password: redis.password || undefined,
      }),
  };
}

function tlsOptions(redis: PipelineConfig['redis'], baseDir: string, url: string | undefined): ConnectionOptions | undefined {
  const wanted =
    redis.tls.enabled ||
    (url?.startsWith('rediss://') ?? false) ||
    redis.cluster?.nodes.some((n) => n.startsWith('rediss://')) ||
    redis.sentinel?.nodes.some((n) => n.startsWith('rediss://'));
  if (!wanted) return undefined;
  const read = (file: string) => (file ? readFileSync(path.resolve(baseDir, file)) : undefined);
  return {
    ca: read(redis.tls.ca_file),
    cert: read(redis.tls.cert_file),
    key: read(redis.tls.key_file),
    rejectUnauthorized: redis.tls.reject_unauthorized,
  };
}
