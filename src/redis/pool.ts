import type { ConnectionPlan, RedisClient } from './connection.ts';
import { withScripts, type ScriptedClient } from './scripts.ts';

/**
 * The non-blocking connections of a pipeline (acks, outputs, dead letters, heartbeats, gauges).
 * Commands issued in the same tick on one connection are auto-pipelined by ioredis; `next()`
 * rotates so that several busy pipelines of work spread over redis.connection_pool_size sockets.
 */
export class ConnectionPool {
  readonly clients: ScriptedClient[];
  private cursor = 0;

  constructor(plan: ConnectionPlan, size: number, onError: (error: Error, client: RedisClient) => void) {
    this.clients = Array.from({ length: size }, (_, i) => {
      const client = withScripts(plan.create(`pool${i}`));
      client.on('error', (error: Error) => onError(error, client));
      return client;
    });
  }

  next(): ScriptedClient {
    const client = this.clients[this.cursor] as ScriptedClient;
    this.cursor = (this.cursor + 1) % this.clients.length;
    return client;
  }

  /** The first connection: used where ordering between commands matters. */
  get primary(): ScriptedClient {
    return this.clients[0] as ScriptedClient;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((client) => closeClient(client)));
  }
}

/** QUIT when connected (waits for replies in flight), else drop the socket; never throws. */
export async function closeClient(client: RedisClient, timeoutMs = 2000): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  const timer = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
  await Promise.race([client.quit().then(() => undefined, () => undefined), timer]);
  if ((client.status as string) !== 'end') client.disconnect();
}
