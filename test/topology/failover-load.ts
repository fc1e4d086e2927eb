import { Redis } from 'ioredis';

/**
 * A producer for failover tests that knows which server acknowledged each write: it writes over a
 * plain connection to one server (the master it was told of), never through a client that may
 * switch servers underneath, so every XADD reply is attributed to a port. After a failed write it
 * does not retry that id (its outcome is unknown: it may or may not exist), and it waits for
 * `findMaster` to name a server that reports role:master before writing again.
 */
export class AttributedProducer {
  /** id -> port of the server that acknowledged its XADD. */
  readonly ackedBy = new Map<string, number>();
  /** Ids whose XADD failed or got no reply: they may exist or not. */
  readonly unknown = new Set<string>();
  private client: Redis | undefined;
  private port = 0;
  private switching: Promise<void> | undefined;
  private next = 1;
  /** When the producer first wrote to a server other than the first one (ms since the epoch). */
  switchedAt = 0;

  constructor(
    private readonly key: string,
    private readonly findMaster: () => Promise<number | undefined>,
  ) {}

  /** Writes ids 1..total as {"id": n} bodies over `lanes` concurrent writers. */
  async run(total: number, lanes = 4): Promise<void> {
    await this.connect();
    await Promise.all(Array.from({ length: lanes }, () => this.lane(total)));
    this.client?.disconnect();
  }

  ackedAt(port: number): string[] {
    return [...this.ackedBy].filter(([, p]) => p === port).map(([id]) => id);
  }

  private async lane(total: number): Promise<void> {
    while (this.next <= total) {
      const id = String(this.next++);
      if (this.switching) await this.switching;
      const { client, port } = this;
      try {
        await (client as Redis).xadd(this.key, '*', 'body', JSON.stringify({ id }));
        this.ackedBy.set(id, port);
      } catch {
        this.unknown.add(id);
        if (this.port === port) this.switching ??= this.connect().finally(() => (this.switching = undefined));
        await this.switching;
      }
    }
  }

  /** Until a server that findMaster names answers role:master: connects to it. */
  private async connect(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.client?.disconnect();
    while (Date.now() < deadline) {
      const port = await this.findMaster().catch(() => undefined);
      if (port !== undefined) {
        const client = new Redis({
          host: '127.0.0.1',
          port,
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          enableOfflineQueue: false,
          retryStrategy: () => null,
          connectTimeout: 1000,
          commandTimeout: 2000,
        });
        client.on('error', () => {});
        try {
          await client.connect();
          if ((await client.info('replication')).includes('role:master')) {
            if (this.port !== 0 && port !== this.port) this.switchedAt = Date.now();
            this.client = client;
            this.port = port;
            return;
          }
        } catch {
          // Not reachable yet: ask again.
        }
        client.disconnect();
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no master for ${this.key} within ${timeoutMs} ms`);
  }
}

/** The body ids of every entry of a stream on one server, with how often each occurs. */
export async function streamIds(server: Redis, key: string): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (let start = '-'; ;) {
    const page = await server.xrange(key, start, '+', 'COUNT', 5000);
    for (const [, fields] of page) {
      const id = String((JSON.parse(fields[1] as string) as { id: string }).id);
      ids.set(id, (ids.get(id) ?? 0) + 1);
    }
    if (page.length < 5000) return ids;
    start = `(${(page[page.length - 1] as [string, string[]])[0]}`;
  }
}

/** What a failover cost, for the test's diagnostic line and docs/scaling.md. */
export function failoverSummary(
  producer: AttributedProducer,
  oldMaster: number,
  newMaster: number,
  present: Map<string, number>,
  handled: Map<string, number>,
): string {
  const ackedOld = producer.ackedAt(oldMaster);
  const ackedNew = producer.ackedAt(newMaster);
  const lost = [...producer.ackedBy.keys()].filter((id) => !present.has(id));
  const lostHandled = lost.filter((id) => handled.has(id)).length;
  const unknownPresent = [...producer.unknown].filter((id) => present.has(id)).length;
  const twice = [...handled.values()].filter((n) => n > 1).length;
  return (
    `acknowledged ${ackedOld.length} by the old master + ${ackedNew.length} by the new; ${producer.unknown.size} writes failed (${unknownPresent} of them exist anyway); ` +
    `on the new master ${present.size}; lost (acknowledged by the old master, never replicated) ${lost.length}, ${lostHandled} of them handled before the kill; handled twice ${twice}`
  );
}
