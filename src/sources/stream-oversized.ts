import type { MessageOrigin } from '../handlers/types.ts';
import { HEADER_FIELD_PREFIX } from '../redis/envelope.ts';
import type { ConnectionPool } from '../redis/pool.ts';
import { setOwnField } from '../redis/own-field.ts';
import type { Delivery } from './source.ts';

export type RawEntry = [Buffer, Buffer[]];

/** What oversized and deferred entries need of the stream source that read them. */
export interface StreamEntries {
  readonly key: string;
  readonly group: string;
  readonly origin: MessageOrigin;
  readonly pool: ConnectionPool;
  /** Entry ids handed out and not yet acknowledged. */
  readonly outstanding: Set<string>;
  toDelivery(entry: RawEntry, deliveryCount: number, receivedAt: number): Delivery;
}

const EMPTY = Buffer.alloc(0);

/** An entry left pending in Redis: loaded once (XRANGE id id), only for its dead letter. */
export function oversizedDelivery(source: StreamEntries, id: string, size: number, deliveryCount: number, receivedAt: number): Delivery {
  source.outstanding.add(id);
  const delivery: Delivery = { id, raw: EMPTY, fields: {}, origin: source.origin, deliveryCount, receivedAt, token: id };
  delivery.oversized = {
    size,
    load: async () => {
      const found = (await source.pool.primary.xrangeBuffer(source.key, id, id)) as RawEntry[];
      const entry = found[0];
      if (!entry) return undefined;
      const loaded = source.toDelivery(entry, deliveryCount, receivedAt);
      delivery.fields = loaded.fields;
      delivery.fieldPairs = loaded.fieldPairs;
      return loaded.raw;
    },
  };
  return delivery;
}

/**
 * Entries beyond an earlier fetch's byte budget, already pending for us (id and total size, taken
 * from the front of `deferred`): read by id, within the budget.
 */
export async function readDeferred(
  source: StreamEntries,
  deferred: [id: string, size: number][],
  max: number,
  budget: number,
): Promise<Delivery[]> {
  let used = 0;
  let n = 0;
  while (n < deferred.length && n < max) {
    used += (deferred[n] as [string, number])[1];
    if (used > budget && n > 0) break;
    n++;
  }
  const batch = deferred.splice(0, n);
  const pipeline = source.pool.primary.pipeline();
  for (const [id] of batch) pipeline.xrangeBuffer(source.key, id, id);
  const replies = (await pipeline.exec()) ?? [];
  const now = Date.now();
  const out: Delivery[] = [];
  const gone: string[] = [];
  batch.forEach(([id], i) => {
    const [error, found] = replies[i] ?? [new Error('no reply')];
    const entry = (found as RawEntry[] | undefined)?.[0];
    if (error) deferred.push([id, (batch[i] as [string, number])[1]]);
    else if (entry) out.push(source.toDelivery(entry, 1, now));
    else gone.push(id);
  });
  // Trimmed meanwhile: it can never be processed, drop it from the group.
  if (gone.length > 0) {
    for (const id of gone) source.outstanding.delete(id);
    await source.pool.primary.xack(source.key, source.group, ...gone);
  }
  return out;
}

/** An entry without a `body` field: its payload is the JSON of its fields, header fields (h:<name>) left out. */
export function fieldsAsBody(fields: Record<string, string>): Buffer {
  const own: Record<string, string> = {};
  for (const name in fields) if (!name.startsWith(HEADER_FIELD_PREFIX)) setOwnField(own, name, fields[name] as string);
  return Buffer.from(JSON.stringify(own));
}

/** The entry's total size if its body (the whole entry without a body field) exceeds maxBytes, as STREAM_READ decides. */
export function oversizedSize(fields: Buffer[], maxBytes: number): number | undefined {
  let total = 0;
  let body: number | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i] as Buffer;
    const value = fields[i + 1] as Buffer;
    total += name.length + value.length;
    if (body === undefined && name.length === 4 && name.toString() === 'body') body = value.length;
  }
  return (body ?? total) > maxBytes ? total : undefined;
}
