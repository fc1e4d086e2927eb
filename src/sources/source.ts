import type { MessageOrigin } from '../handlers/types.ts';

/** One message as a source hands it out: the payload and what the source needs to acknowledge it. */
export interface Delivery {
  id: string;
  raw: Buffer;
  fields: Record<string, string>;
  origin: MessageOrigin;
  /** How many times Redis has handed this message out (1 for a first delivery). */
  deliveryCount: number;
  receivedAt: number;
  /** Source-private handle used by ack(): the item's id in the processing hash (lists, at-least-once), the payload (lists, at-most-once; an oversized item's id in the consumer's oversized hash), the entry id (streams). */
  readonly token: Buffer | string;
  /** Stream entries: every field name and value as Redis stored them (duplicates and bytes kept), flat. */
  fieldPairs?: Buffer[];
  /**
   * Set when the payload is larger than message.max_bytes and was left in Redis: `raw` is empty and
   * `load()` fetches the bytes once, for the dead letter (undefined if they are gone meanwhile).
   */
  oversized?: { size: number; load: () => Promise<Buffer | undefined> };
}

/**
 * The contract every source kind implements. A source knows Redis and nothing about retries:
 * it hands out deliveries, never more than it is asked for (backpressure), and acknowledges them.
 */
export interface Source {
  readonly kind: 'list' | 'stream' | 'channel';
  /** The key (list, stream) or a description of the subscriptions (channel). */
  readonly name: string;
  /** The key a default dead letter is named after (undefined for channels). */
  readonly key: string | undefined;
  /** Connects, creates groups, recovers this consumer's own unfinished messages. */
  start(): Promise<void>;
  /** Up to `max` deliveries; blocks up to the configured block timeout only when nothing is waiting. */
  fetch(max: number): Promise<Delivery[]>;
  /** Marks a delivery finished (processed, or safely dead-lettered). Batched; see flush(). */
  ack(delivery: Delivery): void;
  /** Resolves when every ack issued so far has reached Redis. */
  flush(): Promise<void>;
  /** Makes a pending fetch() return at once; no fetch after this. */
  interrupt(): void;
  /** Releases connections. `unfinished` are deliveries that were not acknowledged. */
  close(unfinished: Delivery[]): Promise<void>;
  /** Messages dropped by the source itself (pub/sub buffer overflow). */
  dropped(): number;
}
