import type { LoadedPipeline } from '../config/index.ts';
import { sourceTarget } from '../config/targets.ts';
import { planConnection, type RedisClient } from '../redis/connection.ts';
import { closeClient } from '../redis/pool.ts';
import { queueWrites } from '../redis/write.ts';

export interface ProduceOptions {
  count: number;
  /** Body template; `{{seq}}` becomes the message number (1-based), `{{now}}` the epoch ms at send time. */
  body?: string | Buffer;
  redisUrl?: string;
  /** Messages per pipelined round trip. */
  chunk?: number;
  /** Starting sequence number (default 1). */
  startAt?: number;
  /**
   * Streams: XADD with MAXLEN ~ source.stream.max_stream_length. Lossy: it removes entries no worker
   * has read yet (a worker's own trimming never does). Default false.
   */
  trimStream?: boolean;
}

export const DEFAULT_BODY = '{"id":{{seq}},"amount":{{seq}},"produced_at":{{now}}}';

/**
 * Sends test messages to a pipeline's source the way a producer would: LPUSH (many values per
 * command), XADD (untrimmed unless asked), or PUBLISH, pipelined in chunks.
 */
export class Producer {
  private readonly client: RedisClient;

  constructor(private readonly pipeline: LoadedPipeline, redisUrl?: string) {
    const { config, dir } = pipeline;
    this.client = planConnection(config.redis, dir, config.name, redisUrl).create('producer');
    this.client.on('error', () => {});
  }

  async send(options: ProduceOptions): Promise<number> {
    const source = sourceTarget(this.pipeline.config);
    // Untrimmed unless asked: MAXLEN removes entries no worker has read yet.
    const target = source && !options.trimStream ? { ...source, maxLength: 0 } : source;
    if (target === undefined && options.count > 0) throw new Error('this channel pipeline subscribes only to patterns: pythia produce needs a plain channel');
    const template = options.body ?? DEFAULT_BODY;
    const chunk = options.chunk ?? 1000;
    const first = options.startAt ?? 1;
    const render = typeof template === 'string' && template.includes('{{') ? (seq: number) => template.replaceAll('{{seq}}', String(seq)).replaceAll('{{now}}', String(Date.now())) : () => template;
    let sent = 0;
    while (sent < options.count) {
      const n = Math.min(chunk, options.count - sent);
      const bodies = Array.from({ length: n }, (_, i) => render(first + sent + i));
      const pipe = this.client.pipeline();
      queueWrites(pipe, target as NonNullable<typeof target>, bodies);
      // A write Redis refused (a key of another type...) is an error, not a message sent.
      const failed = ((await pipe.exec()) ?? []).find(([error]) => error);
      if (failed) throw failed[0] as Error;
      sent += n;
    }
    return sent;
  }

  close(): Promise<void> {
    return closeClient(this.client);
  }
}
