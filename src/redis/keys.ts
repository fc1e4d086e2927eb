/**
 * Every key Pythia derives from a source key. Derived keys wrap the source key in a hash tag, so
 * on Redis Cluster they live in the source key's slot (a key without braces hashes exactly like
 * its own hash tag), and the Lua scripts that touch both stay single-slot.
 */
export const keys = {
  /** List at-least-once: a consumer's in-flight items, a hash of id → payload (see LIST_FETCH in scripts.ts). */
  processing: (key: string, consumer: string) => `{${key}}:processing:${consumer}`,
  heartbeat: (key: string, consumer: string) => `{${key}}:heartbeat:${consumer}`,
  consumers: (key: string) => `{${key}}:consumers`,
  /** List: the counter that gives every fetched item its id in a processing hash, and every oversized at-most-once item its id (see LIST_FETCH, LIST_POP in scripts.ts). */
  ids: (key: string) => `{${key}}:ids`,
  /** List at-least-once: recoveries per payload digest (see LIST_RECOVER in scripts.ts). */
  deliveries: (key: string) => `{${key}}:deliveries`,
  /** List at-most-once: a consumer's items larger than message.max_bytes, a hash of id → payload, each until its dead letter is written (see LIST_POP in scripts.ts). */
  oversized: (key: string, consumer: string) => `{${key}}:oversized:${consumer}`,
  /** Stream: one heartbeat per live consumer of a group. */
  streamHeartbeat: (key: string, group: string, consumer: string) => `{${key}}:heartbeat:${group}:${consumer}`,
};

/**
 * Flow control (src/flow/): keys under the source key's hash tag, so each script's keys share a slot.
 */
export const flowKeys = {
  /** rate_limit scope global: the limiter's state (its theoretical arrival time), per pipeline. */
  rateLimit: (key: string, pipeline: string) => `{${key}}:rate-limit:${pipeline}`,
  /**
   * ordering: the prefix of its keys, per source (and consumer group: each group sees every entry):
   * `fetch-lock` (held by the worker whose fetch is next in line, so tickets queue in fetch order),
   * `q:<ordering key>` (one list of tickets per ordering key) and `owner:<instance>` (a live worker's mark).
   */
  ordering: (key: string, group = '') => `{${key}}:ordering:${group === '' ? '' : `${group}:`}`,
};
