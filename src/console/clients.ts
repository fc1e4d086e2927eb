import type { LoadedPipeline } from '../config/index.ts';
import { closeClient, connectFor } from '../dlq/connect.ts';
import type { RedisClient } from '../redis/connection.ts';
import { registerRedisSecrets } from '../redis/redact.ts';

/**
 * One connection per pipeline (pipelines may live on different Redis servers), opened on first use.
 * A pipeline whose Redis cannot be reached fails its own requests and is retried on the next one;
 * the others keep working.
 */
export class PipelineClients {
  private readonly clients = new Map<string, Promise<RedisClient>>();

  constructor(
    private readonly redisUrl?: string,
    private readonly timeoutMs = 10_000,
  ) {}

  async use<T>(pipeline: LoadedPipeline, work: (client: RedisClient) => Promise<T>): Promise<T> {
    const name = pipeline.config.name;
    let connecting = this.clients.get(name);
    if (!connecting) {
      // Errors and pages are scrubbed of these (src/runtime/logger.ts).
      registerRedisSecrets(pipeline.config.redis, this.redisUrl);
      connecting = connectFor(pipeline, this.redisUrl);
      this.clients.set(name, connecting);
      connecting.catch(() => this.clients.delete(name));
    }
    const client = await connecting;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return await Promise.race([work(client), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map((c) => c.then(closeClient, () => undefined)));
  }
}
