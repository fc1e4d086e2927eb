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
  private healthTimer: NodeJS.Timeout | undefined;

  constructor(plan: ConnectionPlan, size: number, onError: (error: Error, client: RedisClient) => void) {
    this.clients = Array.from({ length: size }, (_, i) => {
      const client = withScripts(plan.create(`pool${i}`));
      client.on('error', (error: Error) => onError(error, client));
      return client;
    });
  }

  /**
   * PINGs every ready connection each `intervalS` seconds (redis.health_check_interval_s): a socket that
   * died silently (a NAT or firewall dropping idle connections) is found and reconnected before a
   * real command needs it. With socket_timeout_ms set, an unanswered PING destroys the socket.
   */
  startHealthChecks(intervalS: number, onError: (error: Error) => void): void {
    if (intervalS <= 0) return;
    this.healthTimer = setInterval(() => {
      for (const client of this.clients) if (client.status === 'ready') client.ping().catch(onError);
    }, intervalS * 1000);
    this.healthTimer.unref();
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
    clearInterval(this.healthTimer);
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
  await Promise.race([
    client.quit().then(
      () => undefined,
      () => undefined,
    ),
    timer,
  ]);
  if ((client.status as string) !== 'end') client.disconnect();
}
