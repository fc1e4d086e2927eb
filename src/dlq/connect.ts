import type { LoadedPipeline } from '../config/index.ts';
import { planConnection, type RedisClient } from '../redis/connection.ts';
import { closeClient } from '../redis/pool.ts';

/**
 * A connection for a one-shot command: fails after redis.connection_timeout_ms instead of waiting for
 * Redis forever (the worker's connections wait; a command line should not).
 */
export async function connectFor({ config, dir }: LoadedPipeline, redisUrl?: string): Promise<RedisClient> {
  const plan = planConnection(config.redis, dir, config.name, redisUrl);
  const client = plan.create('dlq');
  let lastError = '';
  client.on('error', (error: Error) => (lastError = error.message));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `cannot reach Redis at ${plan.describe} within ${config.redis.connection_timeout_ms} ms${lastError ? `: ${lastError}` : ''}`,
          ),
        ),
      config.redis.connection_timeout_ms,
    );
  });
  try {
    await Promise.race([client.ping(), timeout]);
    return client;
  } catch (error) {
    client.disconnect();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

export { closeClient };
