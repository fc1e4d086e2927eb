import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadPipelineText } from '../../src/config/index.ts';
import { keySlot } from '../../src/redis/slots.ts';
import { replayDeadLetters } from '../../src/dlq/replay.ts';
import { keys } from '../../src/redis/keys.ts';
import { closeClient } from '../../src/redis/pool.ts';
import { withScripts } from '../../src/redis/scripts.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { produceSequence } from '../helpers/produce.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { clusterUnsupportedReason, startRedisCluster, type RedisCluster } from '../../src/testing/cluster.ts';
import { handled } from './handlers/record.ts';
import { duplicates, PipelineFiles, RECORD_HANDLER, range } from './support.ts';
import { waitFor } from '../helpers/wait.ts';

const quiet = createLogger('silent');
const N = 1000;

const yaml = (nodes: string[], source: string, extra = '') => `
version: 1
name: cluster-test
redis:
  cluster:
    nodes: [${nodes.map((n) => `"${n}"`).join(', ')}]
source:
${source}
handler: {module: "${RECORD_HANDLER}", export: handle}
concurrency: 10
metrics: {enabled: false}
shutdown: {grace_period_ms: 5000}
${extra}`;

describe('Redis Cluster: 3 masters made with redis-cli --cluster create', { skip: clusterUnsupportedReason(), timeout: 60_000 }, () => {
  let cluster: RedisCluster;
  const files = new PipelineFiles();
  before(async () => {
    cluster = await startRedisCluster(3);
  });
  after(async () => {
    await cluster?.stop();
    files.remove();
  });

  it("computes the same slots as the server, and derived keys share the source key's slot", async () => {
    const node = cluster.nodeClient(0);
    const samples = [
      'task-queue',
      'events',
      '{orders}:queue',
      'a{b',
      'a}b',
      '{}x',
      'tâche',
      keys.processing('task-queue', 'c1'),
      keys.heartbeat('task-queue', 'c1'),
      keys.consumers('task-queue'),
    ];
    for (const key of samples) assert.equal(keySlot(key), await node.cluster('KEYSLOT', key), `slot of ${key}`);
    const slot = keySlot('task-queue');
    for (const derived of [keys.processing('task-queue', 'c1'), keys.heartbeat('task-queue', 'c1'), keys.consumers('task-queue')])
      assert.equal(keySlot(derived), slot, derived);
    // The three masters each own a third of the slots: this is a real, sharded cluster.
    const shards = (await node.cluster('SHARDS')) as unknown[];
    assert.equal(shards.length, 3);
  });

  it("list, at-least-once: every message handled once, a dead consumer's items recovered, nothing left in flight", async () => {
    const key = 'task-queue';
    const loaded = await files.load(
      'list',
      yaml(
        cluster.urls,
        `  list: {key: ${key}, batch_size: 50, delivery: at-least-once, recovery_interval_ms: 500}`,
        `output: {list: "${key}:done"}`,
      ),
    );
    const client = cluster.client();
    // A consumer that died with three items in flight (in a processing list, as an earlier version wrote
    // it): the recovery script moves them back.
    await client.rpush(
      keys.processing(key, 'ghost'),
      JSON.stringify({ id: 9001 }),
      JSON.stringify({ id: 9002 }),
      JSON.stringify({ id: 9003 }),
    );
    await client.sadd(keys.consumers(key), 'ghost');
    await produceSequence(loaded, N);

    const worker = await Worker.start([loaded], { logger: quiet });
    const seen = handled(key);
    try {
      await waitFor('every list message to be handled', () => seen.size >= N + 3, { timeoutMs: 30_000 });
    } finally {
      await worker.stop();
    }
    assert.deepEqual(duplicates(seen), []);
    for (const id of [...range(1, N), '9001', '9002', '9003']) assert.equal(seen.get(id), 1, `id ${id}`);
    assert.equal(await client.llen(key), 0);
    assert.equal(await client.llen(`${key}:done`), N + 3, 'every result written to the output list');
    assert.equal(await client.exists(keys.processing(key, 'ghost')), 0, "the dead consumer's list was emptied");
    assert.equal(await client.scard(keys.consumers(key)), 0, 'no consumer left registered after a clean stop');
  });

  it('stream: a consumer group on the cluster handles every entry and leaves nothing pending', async () => {
    const key = 'events';
    const loaded = await files.load(
      'stream',
      yaml(
        cluster.urls,
        `  stream: {key: ${key}, consumer_group: workers, consumer: c1, start_id: "0", batch_size: 50, max_stream_length: 100000}`,
      ),
    );
    await produceSequence(loaded, N);
    const worker = await Worker.start([loaded], { logger: quiet });
    const seen = handled(key);
    try {
      await waitFor('every stream entry to be handled', () => seen.size >= N, { timeoutMs: 30_000 });
    } finally {
      await worker.stop();
    }
    assert.deepEqual(duplicates(seen), []);
    const client = cluster.client();
    const pending = (await client.xpending(key, 'workers')) as [number, ...unknown[]];
    assert.equal(pending[0], 0, 'every entry acknowledged');
  });

  it('a key with a hash tag: rejected for a list (it really would CROSSSLOT), accepted for a stream where it is harmless', async () => {
    const tagged = '{orders}:queue';
    // What validation protects against: the fetch script over the list and its processing list, and the
    // at-most-once pop script over the list and the hash its oversized items are set aside in.
    const client = withScripts(cluster.client());
    await assert.rejects(
      client.pythiaListFetchBuffer(tagged, keys.processing(tagged, 'c1'), keys.deliveries(tagged), keys.ids(tagged), 10, 1024, 1024),
      /CROSSSLOT/,
    );
    await assert.rejects(client.pythiaListPopBuffer(tagged, keys.oversized(tagged, 'c1'), keys.ids(tagged), 10, 1024, 1024), /CROSSSLOT/);
    await closeClient(client);

    const rejected = await loadPipelineText('tagged.yml', yaml(cluster.urls, `  list: {key: "${tagged}"}`), { importModules: false });
    assert.equal(rejected.ok, false);
    const message = rejected.ok ? '' : (rejected.issues[0]?.message ?? '');
    assert.match(message, /CROSSSLOT/);
    assert.match(message, /source\.list\.key "\{orders\}:queue"/);
    assert.match(message, new RegExp(`slot ${keySlot(tagged)}`));
    assert.match(message, /"orders:queue"/, 'suggests a key without braces');

    // The same key on a stream is used by single-key commands only; an at-most-once list is rejected too.
    const key = '{orders}:events';
    const stream = await files.load('tagged-stream', yaml(cluster.urls, `  stream: {key: "${key}", consumer: c1, start_id: "0"}`));
    await produceSequence(stream, 20);
    const worker = await Worker.start([stream], { logger: quiet });
    try {
      await waitFor('the tagged stream to be consumed', () => handled(key).size >= 20, { timeoutMs: 15_000 });
    } finally {
      await worker.stop();
    }
    const atMostOnce = await loadPipelineText('tagged-amo.yml', yaml(cluster.urls, `  list: {key: "${tagged}", delivery: at-most-once}`), {
      importModules: false,
    });
    assert.equal(atMostOnce.ok, false);
    assert.match(atMostOnce.ok ? '' : (atMostOnce.issues[0]?.message ?? ''), /delivery: at-most-once on Redis Cluster: .*CROSSSLOT/);
  });

  it('list, at-most-once: handled on the cluster, an oversized item set aside by the pop script and dead-lettered whole', async () => {
    const key = 'amo-queue';
    const loaded = await files.load(
      'amo',
      yaml(cluster.urls, `  list: {key: ${key}, delivery: at-most-once, consumer: c1}`, 'message: {max_bytes: 1024}'),
    );
    const client = cluster.client();
    const big = JSON.stringify({ id: 'big', pad: 'x'.repeat(5000) });
    await client.lpush(key, big, JSON.stringify({ id: 'small' }));
    const worker = await Worker.start([loaded], { logger: quiet });
    const seen = handled(key);
    try {
      await waitFor(
        'the small message handled and the big one dead-lettered',
        async () => seen.size === 1 && (await client.llen(`${key}:dead`)) === 1,
        {
          timeoutMs: 30_000,
        },
      );
    } finally {
      await worker.stop();
    }
    const [dead] = await client.lrange(`${key}:dead`, 0, -1);
    const letter = JSON.parse(dead ?? '{}') as { reason?: string; payload: string; payload_encoding: BufferEncoding };
    assert.equal(letter.reason, 'too_large');
    assert.equal(Buffer.from(letter.payload, letter.payload_encoding === 'base64' ? 'base64' : 'utf8').toString(), big);
    assert.equal(await client.exists(keys.oversized(key, 'c1')), 0, 'nothing left set aside');
  });

  it("dlq replay: two concurrent replays move every entry once, whether or not the dead letter shares the source's slot", async () => {
    const client = cluster.client();
    const stamp = '2026-01-01T00:00:00.000Z';
    // One dead letter in the source's slot (named by a hash tag: the atomic script), one in another (claim, then re-send).
    for (const [source, dead, sameSlot] of [
      ['dlq-a', '{dlq-a}:dead', true],
      ['dlq-b', 'dlq-b:dead', false],
    ] as const) {
      assert.equal(keySlot(source) === keySlot(dead), sameSlot, `${source} and ${dead}`);
      const count = 2000;
      for (let from = 0; from < count; from += 500) {
        const entries = range(from + 1, Math.min(count, from + 500)).map((id) =>
          JSON.stringify({
            payload: `{"id":${id}}`,
            payload_encoding: 'utf8',
            reason: 'retries_exhausted',
            error: 'e',
            attempts: 1,
            pipeline: 'cluster-test',
            source: { kind: 'list', key: source },
            message_id: id,
            first_failure_at: stamp,
            last_failure_at: stamp,
            dead_lettered_at: stamp,
          }),
        );
        await client.lpush(dead, ...entries);
      }
      const replay = () =>
        replayDeadLetters(client, { kind: 'list', key: dead }, { kind: 'list', key: source }, { pipeline: 'cluster-test', chunk: 100 });
      const [a, b] = await Promise.all([replay(), replay()]);
      assert.equal(a.replayed + b.replayed, count, `${source}: moved once in all`);
      assert.deepEqual([...a.failed, ...b.failed], []);
      assert.equal(await client.llen(dead), 0);
      const sent = await client.lrange(source, 0, -1);
      assert.equal(sent.length, count);
      assert.equal(new Set(sent).size, count, `${source}: no entry sent twice`);
    }
  });
});
