import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { listDeadLetters } from './helpers.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { pipelineYaml } from '../helpers/pipelines.ts';

const quiet = createLogger('silent');

describe('a message is acknowledged only after its dead letter was written', () => {
  const redis = usePrivateRedis({ exportUrl: true });

  for (const kind of ['list', 'stream'] as const) {
    it(`${kind}: while the dead letter cannot be written the message stays unacknowledged, then it is written once`, async () => {
      const name = `unwritable-${kind}`;
      const source =
        kind === 'list'
          ? `source: {list: {key: "q:${name}", consumer: c1, block_timeout_ms: 200}}`
          : `source: {stream: {key: "q:${name}", consumer_group: g, consumer: c1, start_id: "0", block_timeout_ms: 200}}`;
      const loaded = await redis.dir.load(
        name,
        pipelineYaml(name, {}, `${source}\nhandler: {module: "{{support}}/handlers/record.mjs"}\n`),
      );
      const dead = `q:${name}:dead`;
      await redis.client.set(dead, 'a string: LPUSH fails with WRONGTYPE');
      if (kind === 'list') await redis.client.lpush(`q:${name}`, 'not json');
      else await redis.client.xadd(`q:${name}`, '*', 'body', 'not json');
      const unacked = async () =>
        kind === 'list' ? redis.client.hlen(`{q:${name}}:processing:c1`) : ((await redis.client.xpending(`q:${name}`, 'g')) as [number])[0];
      // Failed dead-letter writes, as Redis counts them (the other kind's test may have failed some before).
      const failedLpush = async () =>
        Number(/^cmdstat_lpush:.*failed_calls=(\d+)/m.exec(await redis.client.info('commandstats'))?.[1] ?? 0);
      const failedBefore = await failedLpush();
      const worker = await Worker.start([loaded], { logger: quiet });
      try {
        await waitFor('taken by the worker', async () => (await unacked()) === 1, { timeoutMs: 5000 });
        await waitFor('three failed dead-letter writes', failedLpush, { until: (n) => n >= failedBefore + 3, timeoutMs: 5000 });
        assert.equal(await unacked(), 1, 'not acknowledged while the dead letter write fails');
        await redis.client.del(dead);
        await waitFor('written, then acknowledged', async () => (await redis.client.llen(dead)) >= 1 && (await unacked()) === 0, {
          timeoutMs: 5000,
        });
        await sleep(200); // an idle period on purpose: a second write of the dead letter would show in it
      } finally {
        await worker.stop();
      }
      const entries = await listDeadLetters(redis.client, dead);
      assert.deepEqual(
        entries.map((e) => [e.reason, e.payload]),
        [['invalid_json', 'not json']],
      );
    });
  }
});
