import { keys } from '../redis/keys.ts';
import { hashTag, keySlot } from '../redis/slots.ts';
import type { IssueReport } from './errors.ts';
import type { PipelineConfig } from './pipeline.types.ts';

/**
 * Checks that only matter beyond one Redis server: on Redis Cluster every multi-key command and
 * Lua script must touch keys of one hash slot, and a cluster has only database 0.
 *
 * What can hit CROSSSLOT: the list source (both delivery modes) runs Lua scripts (fetch, ack, recover,
 * reconcile) and BLMOVE over the list and the keys derived from it ({<key>}:processing:<consumer>,
 * {<key>}:heartbeat:<consumer>, {<key>}:consumers). Wrapping the key in braces gives the derived
 * keys the hash tag <key>, which hashes exactly like the list itself as long as the key has no
 * "}". A key with a "}" breaks it: "{orders}:queue" hashes by its tag "orders", while
 * "{{orders}:queue}:processing:c" hashes by "{orders". The queue-length gauge (metrics) also reads a
 * list with its {<key>}:consumers set in one script. The at-most-once list's pop script sets oversized
 * items aside in {<key>}:oversized:<consumer> under an id from {<key>}:ids, so it needs them in the
 * list's slot too. Streams (one key per command), outputs and dead letters (written on their own,
 * never in a script with the source) are unaffected.
 */
export function checkTopology(config: PipelineConfig, report: IssueReport): void {
  const { redis } = config;
  if (!redis.cluster) return;

  if (redis.db !== 0) report(`redis.db is ${redis.db}, but Redis Cluster has only database 0: remove redis.db`, ['redis', 'db']);
  redis.cluster.nodes.forEach((node, i) => {
    const db = safeUrl(node)?.pathname.replace(/^\//, '') ?? '';
    if (db !== '' && db !== '0')
      report(`redis.cluster.nodes[${i}] selects database ${db}, but Redis Cluster has only database 0: drop "/${db}" from the URL`, [
        'redis',
        'cluster',
        'nodes',
        i,
      ]);
  });
  const schemes = new Set(redis.cluster.nodes.map((n) => n.slice(0, n.indexOf(':'))));
  if (schemes.size > 1)
    report('redis.cluster.nodes mixes redis:// and rediss:// URLs: every node of a cluster speaks the same protocol, so use one scheme', [
      'redis',
      'cluster',
      'nodes',
    ]);

  const list = config.source.list;
  if (!list) return;
  const key = list.key;
  const atLeastOnce = list.delivery === 'at-least-once';
  // The derived key the source's scripts touch beside the list: at-most-once, where the pop sets oversized items aside.
  const derived = atLeastOnce ? keys.processing : keys.oversized;
  const sourceSlot = keySlot(key);
  const derivedSlot = keySlot(derived(key, 'a'));
  if (!key.includes('}') && sourceSlot === derivedSlot) return;
  const suggestion = key.replace(/[{}]/g, '') || 'task-queue';
  const named = atLeastOnce
    ? `its processing list "${derived(key, '<consumer>')}"`
    : `"${derived(key, '<consumer>')}", where its pop script sets oversized items aside,`;
  const outcome = atLeastOnce ? 'the atomic fetch/ack/recover scripts would fail' : 'every pop would fail';
  const tail = 'Pythia keeps the derived keys in the list\'s slot by wrapping the key in {...}; a key containing "}" defeats that.';
  report(
    `source.list.key "${key}" cannot be used with delivery: ${list.delivery} on Redis Cluster: the list hashes to slot ${sourceSlot} (${hashInput(key)}) but ${named} hashes to slot ${derivedSlot} (${hashInput(derived(key, 'a'))}), so ${outcome} with CROSSSLOT. ` +
      `${tail} Use a key without braces (e.g. "${suggestion}")`,
    ['source', 'list', 'key'],
  );
}

function safeUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

function hashInput(key: string): string {
  const tag = hashTag(key);
  return tag === key ? 'the whole key' : `hash tag "${tag}"`;
}
