import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/runtime/logger.ts';
import { produceSequence } from '../helpers/produce.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { waitFor } from '../../src/testing/index.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { pythia } from '../resilience/helpers.ts';

const quiet = createLogger('silent');
const redis = usePrivateRedis({ exportUrl: true });

function yaml(name: string, source: string, extra = ''): string {
  return `name: ${name}
redis: {url: "\${REDIS_URL}"}
metrics: {enabled: false}
source: {stream: {${source}}}
handler: {module: "{{support}}/handlers/record.mjs"}
output: {list: "${name}:out"}
${extra}`;
}

/** XPENDING calls so far: the idle-claim timer makes one per claim_interval_ms. */
async function xpendingCalls(): Promise<number> {
  const stats = await redis.client.info('commandstats');
  return Number(/cmdstat_xpending:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

describe('stream housekeeping', () => {
  it('max_stream_length never trims an entry some group has not acknowledged; trims once all have, also when idle', async () => {
    const { client, dir } = redis;
    const N = 2000;
    // A second group that reads nothing yet: its entries must stay too.
    await client.xgroup('CREATE', 's:trim', 'audit', '0', 'MKSTREAM');
    const loaded = await dir.load(
      'trim',
      yaml('trim', 'key: "s:trim", start_id: "0", max_stream_length: 100, claim_interval_ms: 200, batch_size: 50', 'concurrency: 4'),
    );
    await produceSequence(loaded, N, '{"id":{{seq}},"sleep":2}');
    assert.equal(await client.xlen('s:trim'), N, 'the producer does not trim by default');
    const worker = await Worker.start([loaded], { logger: quiet });
    try {
      await waitFor(`all ${N} entries processed`, async () => (await client.llen('trim:out')) >= N, { timeoutMs: 60_000 });
      const ids = new Set((await client.lrange('trim:out', 0, -1)).map((r) => (JSON.parse(r) as { id: number }).id));
      assert.equal(ids.size, N, 'every entry processed: none trimmed unread');
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await client.xlen('s:trim'), N, 'the audit group has read nothing: nothing trimmed');

      // The other group reads and acknowledges everything; the worker, idle now, trims.
      const read = (await client.xreadgroup('GROUP', 'audit', 'a1', 'COUNT', N, 'STREAMS', 's:trim', '>')) as [
        string,
        [string, string[]][],
      ][];
      const entries = (read[0] as [string, [string, string[]][]])[1];
      await client.xack('s:trim', 'audit', ...entries.map((e) => e[0]));
      await waitFor('the stream trimmed while idle to at most 200 entries', async () => (await client.xlen('s:trim')) <= 200, {
        timeoutMs: 10_000,
      });
    } finally {
      await worker.stop();
    }
  });

  it('produce trims only with --trim, and validate warns about length caps that drop unread entries', async () => {
    const { client, dir } = redis;
    const file = dir.write(
      'capped',
      yaml('capped', 'key: "s:capped", max_stream_length: 10', 'dead_letter: {stream: {key: "s:capped:dead", max_stream_length: 1000}}'),
    );
    const plain = await pythia(['produce', file, '--count', '200']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(await client.xlen('s:capped'), 200);
    const trimmed = await pythia(['produce', file, '--count', '200', '--trim']);
    assert.equal(trimmed.code, 0, trimmed.stderr);
    assert.ok((await client.xlen('s:capped')) < 400);
    const validate = await pythia(['validate', file]);
    assert.equal(validate.code, 0, validate.stdout + validate.stderr);
    assert.match(validate.stdout, /warning: dead_letter\.stream\.max_stream_length 1000 trims s:capped:dead/);
  });

  it('NOGROUP: the group is created again without adding timers each time', async () => {
    const { client, dir } = redis;
    const loaded = await dir.load('nogroup', yaml('nogroup', 'key: "s:nogroup", block_timeout_ms: 50, claim_interval_ms: 200'));
    const worker = await Worker.start([loaded], { logger: quiet });
    try {
      for (let round = 0; round < 6; round++) {
        await client.del('s:nogroup');
        await waitFor(
          'group created again',
          async () => (await client.exists('s:nogroup')) === 1 && ((await client.xinfo('GROUPS', 's:nogroup')) as unknown[]).length === 1,
          { timeoutMs: 5000 },
        );
      }
      await client.xadd('s:nogroup', '*', 'body', '{"id":1}');
      await waitFor('still consuming', async () => (await client.llen('nogroup:out')) === 1);
      // One claim timer makes about 10 XPENDING calls in 2 s; each extra start() used to add another.
      const before = await xpendingCalls();
      await new Promise((r) => setTimeout(r, 2000));
      const calls = (await xpendingCalls()) - before;
      assert.ok(calls <= 15, `${calls} XPENDING calls in 2 s: one claim timer, not one per NOGROUP`);
    } finally {
      await worker.stop();
    }
  });
});
