import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exited, spawnWorker } from '../helpers/pipelines.ts';
import { waitFor } from '../../src/testing/index.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';

const children: ReturnType<typeof spawnWorker>[] = [];
const redis = usePrivateRedis({ cleanup: () => children.forEach((c) => c.kill('SIGKILL')) });

function yaml(name: string, body: string): string {
  return `name: ${name}\nredis: {url: "${redis.server.url}"}\nmetrics: {enabled: false}\n${body}\n`;
}

function worker(file: string): ReturnType<typeof spawnWorker> {
  const child = spawnWorker([file]);
  children.push(child);
  return child;
}

describe('a consumer name is held by one live process', () => {
  for (const kind of ['list', 'stream'] as const) {
    it(`${kind}: a second process with the same consumer name fails with a clear error; the first goes on`, async () => {
      const source =
        kind === 'list'
          ? `list: {key: "q:same", consumer: twin, heartbeat_ttl_ms: 1000, block_timeout_ms: 100}`
          : `stream: {key: "s:same", consumer: twin, heartbeat_ttl_ms: 1000, block_timeout_ms: 100}`;
      const file = redis.dir.write(
        `same-${kind}`,
        yaml(
          `same-${kind}`,
          `source: {${source}}\nhandler: {module: "{{support}}/handlers/record.mjs"}\noutput: {list: "same-${kind}:out"}`,
        ),
      );
      const first = worker(file);
      const heartbeat = kind === 'list' ? '{q:same}:heartbeat:twin' : '{s:same}:heartbeat:pythia:twin';
      await waitFor(
        () => `the first process's heartbeat; its log: ${first.output()}`,
        async () => (await redis.client.exists(heartbeat)) === 1,
      );
      const second = worker(file);
      const code = await exited(second);
      assert.notEqual(code, 0, second.output());
      assert.match(second.output(), new RegExp(`source\\.${kind}\\.consumer "twin".* is in use by another live process`));
      assert.equal(first.exitCode, null, 'the first process still runs');
      const id =
        kind === 'list' ? await redis.client.lpush('q:same', '{"id":1}') : await redis.client.xadd('s:same', '*', 'body', '{"id":1}');
      assert.ok(id);
      await waitFor(
        () => `the first process handling a message; its log: ${first.output()}`,
        async () => (await redis.client.llen(`same-${kind}:out`)) === 1,
      );
      first.kill('SIGTERM');
      assert.equal(await exited(first), 0);
    });
  }

  it('stream: the default name (the hostname) held by a live process: the next one on the host takes a unique name', async () => {
    const file = redis.dir.write(
      'default',
      yaml(
        'default',
        `source: {stream: {key: "s:default", heartbeat_ttl_ms: 1000, block_timeout_ms: 100}}\nhandler: {module: "{{support}}/handlers/record.mjs"}\noutput: {list: "default:out"}`,
      ),
    );
    const a = worker(file);
    const b = worker(file);
    await waitFor(
      () => `two heartbeats, two names; logs: ${a.output()}${b.output()}`,
      async () => (await redis.client.keys('{s:default}:heartbeat:pythia:*')).length === 2,
      { timeoutMs: 15_000 },
    );
    for (let i = 0; i < 300; i++) await redis.client.xadd('s:default', '*', 'body', JSON.stringify({ id: i }));
    await waitFor("(await redis.client.llen('default:out')) >= 300", async () => (await redis.client.llen('default:out')) >= 300);
    await new Promise((r) => setTimeout(r, 300));
    const ids = (await redis.client.lrange('default:out', 0, -1)).map((r) => (JSON.parse(r) as { id: number }).id);
    assert.equal(ids.length, 300, 'each entry handled once');
    a.kill('SIGTERM');
    b.kill('SIGTERM');
    assert.deepEqual([await exited(a), await exited(b)], [0, 0]);
  });

  it("stream: a crashed consumer's entries are recovered after its heartbeat expires, not claim_idle_ms; then it leaves the group", async () => {
    const common =
      'key: "s:crash", consumer_group: g, heartbeat_ttl_ms: 1000, claim_interval_ms: 200, claim_idle_ms: 600000, block_timeout_ms: 100';
    const hanging = redis.dir.write(
      'hanging',
      yaml(
        'crash',
        `source: {stream: {${common}, consumer: doomed}}\nhandler: {module: "{{support}}/handlers/stubborn.mjs"}\nconcurrency: 20\nresilience: {processing_timeout_ms: 600000}\noutput: {list: "crash:out"}`,
      ),
    );
    const healthy = redis.dir.write(
      'healthy',
      yaml(
        'crash',
        `source: {stream: {${common}, consumer: survivor}}\nhandler: {module: "{{support}}/handlers/record.mjs"}\noutput: {list: "crash:out"}`,
      ),
    );
    const doomed = worker(hanging);
    await waitFor(
      () => `the doomed consumer's heartbeat; its log: ${doomed.output()}`,
      async () => (await redis.client.exists('{s:crash}:heartbeat:g:doomed')) === 1,
    );
    for (let i = 0; i < 20; i++) await redis.client.xadd('s:crash', '*', 'body', JSON.stringify({ id: i, hang: 600000 }));
    await waitFor('the doomed consumer holding all 20', async () => ((await redis.client.xpending('s:crash', 'g')) as [number])[0] === 20);
    doomed.kill('SIGKILL');
    await exited(doomed);
    const survivor = worker(healthy);
    await waitFor(
      () => `recovered well before claim_idle_ms (10 min): ${survivor.output()}`,
      async () => (await redis.client.llen('crash:out')) === 20,
      { timeoutMs: 15_000 },
    );
    await waitFor(
      'the crashed consumer removed from the group',
      async () => {
        const consumers = (await redis.client.xinfo('CONSUMERS', 's:crash', 'g')) as unknown[][];
        return consumers.length === 1 && String(consumers[0]?.[1]) === 'survivor';
      },
      { timeoutMs: 10_000 },
    );
    survivor.kill('SIGTERM');
    assert.equal(await exited(survivor), 0);
    assert.equal(
      ((await redis.client.xinfo('CONSUMERS', 's:crash', 'g')) as unknown[]).length,
      0,
      'a clean stop with nothing pending leaves the group',
    );
  });
});
