import { after, before } from 'node:test';
import type { Redis } from 'ioredis';
import { PipelineDir } from './pipelines.ts';
import { startRedis, type RedisServer, type RedisServerOptions } from './redis-server.ts';

/** What a test file shares: its private redis-server, a client on it, and a temp dir for pipeline files. */
export interface PrivateRedis {
  server: RedisServer;
  /** Replaceable, e.g. after a restart. */
  client: Redis;
  readonly dir: PipelineDir;
}

/**
 * Registers the before/after hooks of a suite that talks to Redis: starts a private redis-server (never a
 * shared one), and afterwards stops it and removes the pipeline dir. `exportUrl` also sets REDIS_URL for
 * pipelines that read it; `cleanup` runs first in `after` (e.g. reaping worker processes).
 */
export function usePrivateRedis(options: RedisServerOptions & { exportUrl?: boolean; cleanup?: () => void } = {}): PrivateRedis {
  const { exportUrl, cleanup, ...serverOptions } = options;
  const context = { dir: new PipelineDir() } as PrivateRedis;
  before(async () => {
    context.server = await startRedis(serverOptions);
    context.client = context.server.client();
    if (exportUrl) process.env.REDIS_URL = context.server.url;
  });
  after(async () => {
    cleanup?.();
    await context.server.stop();
    context.dir.remove();
  });
  return context;
}
