import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadPipelineText } from '../../src/config/index.ts';
import { hashTag, keySlot } from '../../src/redis/slots.ts';
import { RECORD_HANDLER } from './support.ts';

const pipeline = (redis: string, source: string, metrics = '{enabled: false}') => `version: 1
name: topo
redis:
${redis}
source:
${source}
handler: {module: "${RECORD_HANDLER}", export: handle}
metrics: ${metrics}
`;
const CLUSTER = '  cluster: {nodes: ["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"]}';

async function issues(text: string): Promise<{ line: number; col: number; message: string }[]> {
  const result = await loadPipelineText('topo.yml', text, { importModules: false, env: {} });
  return result.ok ? [] : result.issues;
}

describe('topology validation (no server needed)', () => {
  it('hash tags and slots follow the Redis Cluster rules', () => {
    assert.equal(hashTag('task-queue'), 'task-queue');
    assert.equal(hashTag('{orders}:queue'), 'orders');
    assert.equal(hashTag('{}x'), '{}x', 'an empty tag hashes the whole key');
    assert.equal(hashTag('a{b'), 'a{b');
    assert.equal(hashTag('{{orders}:queue}:processing:c'), '{orders');
    // Known values from the Redis Cluster specification / CLUSTER KEYSLOT.
    assert.equal(keySlot('123456789'), 0x31c3 % 16384);
    assert.equal(keySlot('foo'), 12182);
    assert.equal(keySlot('{user1000}.following'), keySlot('{user1000}.followers'));
  });

  it('rejects an at-least-once list key containing "}" on a cluster, at the key, with the slots and a fix', async () => {
    const found = await issues(pipeline(CLUSTER, '  list: {key: "{orders}:queue"}'));
    assert.equal(found.length, 1);
    const [issue] = found;
    assert.equal(issue?.line, 6);
    assert.match(
      issue?.message ?? '',
      /^source\.list\.key "\{orders\}:queue" cannot be used with delivery: at-least-once on Redis Cluster: the list hashes to slot \d+ \(hash tag "orders"\) but its processing list "\{\{orders\}:queue\}:processing:<consumer>" hashes to slot \d+ \(hash tag "\{orders"\), so the atomic fetch\/ack\/recover scripts would fail with CROSSSLOT/,
    );
    assert.match(issue?.message ?? '', /Use a key without braces \(e\.g\. "orders:queue"\)$/);
    assert.equal((await issues(pipeline(CLUSTER, '  list: {key: "a}b"}'))).length, 1, 'a lone "}" breaks the derived tag too');
  });

  it('accepts what cannot CROSSSLOT: plain keys, a "{" without "}", streams with tags, and tags off-cluster', async () => {
    assert.deepEqual(await issues(pipeline(CLUSTER, '  list: {key: "task-queue"}')), []);
    assert.deepEqual(await issues(pipeline(CLUSTER, '  list: {key: "a{b"}')), []);
    assert.deepEqual(await issues(pipeline(CLUSTER, '  list: {key: "task-queue", delivery: at-most-once}')), []);
    assert.deepEqual(await issues(pipeline(CLUSTER, '  stream: {key: "{orders}:events"}')), []);
    assert.deepEqual(
      await issues(pipeline('  url: redis://127.0.0.1:6390/0', '  list: {key: "{orders}:queue"}')),
      [],
      'one server has no slots',
    );
  });

  it('rejects a "}" in an at-most-once list key on a cluster: its pop script sets oversized items aside in a derived key', async () => {
    for (const metrics of ['{enabled: true}', '{enabled: false}']) {
      const found = await issues(pipeline(CLUSTER, '  list: {key: "{orders}:queue", delivery: at-most-once}', metrics));
      assert.equal(found.length, 1, metrics);
      assert.equal(found[0]?.line, 6);
      assert.match(
        found[0]?.message ?? '',
        /^source\.list\.key "\{orders\}:queue" cannot be used with delivery: at-most-once on Redis Cluster: the list hashes to slot \d+ \(hash tag "orders"\) but "\{\{orders\}:queue\}:oversized:<consumer>", where its pop script sets oversized items aside, hashes to slot \d+ \(hash tag "\{orders"\), so every pop would fail with CROSSSLOT/,
      );
      assert.match(found[0]?.message ?? '', /Use a key without braces \(e\.g\. "orders:queue"\)$/);
    }
  });

  it('rejects a database other than 0 and mixed schemes on a cluster', async () => {
    const db = await issues(pipeline(`${CLUSTER}\n  db: 2`, '  list: {key: q}'));
    assert.equal(db.length, 1);
    assert.match(db[0]?.message ?? '', /redis\.db is 2, but Redis Cluster has only database 0/);
    const inUrl = await issues(pipeline('  cluster: {nodes: ["redis://127.0.0.1:7000/3"]}', '  list: {key: q}'));
    assert.match(inUrl[0]?.message ?? '', /redis\.cluster\.nodes\[0\] selects database 3/);
    const mixed = await issues(pipeline('  cluster: {nodes: ["redis://127.0.0.1:7000", "rediss://127.0.0.1:7001"]}', '  list: {key: q}'));
    assert.match(mixed[0]?.message ?? '', /mixes redis:\/\/ and rediss:\/\//);
  });
});
