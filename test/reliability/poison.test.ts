// Scenario 4: 1,000 poison messages mixed into 20k good ones. Every poison message must end in the dead
// letter ("<source key>:dead") with the right reason; every good one must be processed.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { bodies, exited, reliablePipeline, produce, reapWorkers, report, sampleRss, spawnWorker, tally } from './helpers.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { waitFor } from '../helpers/wait.ts';

const GOOD = 20_000;
const PER_KIND = 200;
const MAX_BYTES = 2048;

/** Poison kinds: how each one is made and the dead-letter reason it must get. */
const POISON = {
  json: { reason: 'invalid_json', make: (id: number) => `{"id": ${id}, "tag": "json", ` },
  schema: { reason: 'schema_invalid', make: (id: number) => JSON.stringify({ id, tag: 'schema', unexpected: true }) },
  large: { reason: 'too_large', make: (id: number) => JSON.stringify({ id, tag: 'large', pad: 'x'.repeat(MAX_BYTES * 2) }) },
  throw: { reason: 'retries_exhausted', make: (id: number) => JSON.stringify({ id, tag: 'throw', fail: 'always' }) },
  hang: { reason: 'timeout', make: (id: number) => JSON.stringify({ id, tag: 'hang', hang: true }) },
} as const;
type Kind = keyof typeof POISON;

const SCHEMA = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: {
    id: { type: 'integer', minimum: 1 },
    tag: { type: 'string' },
    pad: { type: 'string' },
    fail: { enum: ['always'] },
    hang: { type: 'boolean' },
  },
};

describe('reliability: poison messages go to the dead letter with the right reason', () => {
  const redis = usePrivateRedis({ cleanup: reapWorkers });

  for (const kind of ['list', 'stream'] as const) {
    it(`${kind}: ${PER_KIND * 5} poison among ${GOOD} good`, async () => {
      const name = `poison-${kind}`;
      const key = `q:${name}`;
      const out = `${name}:out`;
      const deadKey = `${key}:dead`;
      writeFileSync(path.join(redis.dir.dir, 'poison-schema.json'), JSON.stringify(SCHEMA));
      const source =
        kind === 'list'
          ? `  list: {key: "${key}", batch_size: 100}`
          : `  stream: {key: "${key}", consumer_group: g, start_id: "0", batch_size: 100}`;
      const extra = `concurrency: 100
message: {format: json, schema: ./poison-schema.json, max_bytes: ${MAX_BYTES}}
resilience: {max_retries: 1, retry_delay_ms: 10, retry_jitter: 0, processing_timeout_ms: 300, circuit_breaker: {enabled: false}}`;
      const file = redis.dir.write(name, reliablePipeline(name, source, extra));

      // Poison ids follow the good ones; poison is spread evenly through the queue.
      const expected = new Map<number, Kind>();
      const poison: string[] = [];
      let id = GOOD;
      for (const k of Object.keys(POISON) as Kind[]) {
        for (let i = 0; i < PER_KIND; i++) {
          expected.set(++id, k);
          poison.push(POISON[k].make(id));
        }
      }
      poison.sort(() => Math.random() - 0.5);
      const good = bodies(1, GOOD);
      const mixed: string[] = [];
      const every = Math.floor(good.length / poison.length);
      for (let i = 0; i < good.length; i++) {
        mixed.push(good[i] as string);
        if (i % every === every - 1 && poison.length > 0) mixed.push(poison.pop() as string);
      }
      mixed.push(...poison);
      await produce(redis.client, kind, key, mixed);

      const started = Date.now();
      const worker = spawnWorker([file], { REDIS_URL: redis.server.url });
      const rss = sampleRss(() => worker.pid);
      // A failed wait is raised only after the report below, so the run still records what was lost.
      const unfinished = await waitFor(
        () => `${GOOD} results in ${out} and ${expected.size} dead letters in ${deadKey}\n${worker.output().slice(-2000)}`,
        async () => ({ results: await redis.client.llen(out), dead: await redis.client.llen(deadKey) }),
        { until: (n) => n.results >= GOOD && n.dead >= expected.size, timeoutMs: 90_000, intervalMs: 100 },
      ).then(
        () => undefined,
        (error: unknown) => error,
      );
      const took = Date.now() - started;
      worker.kill('SIGTERM');
      const code = await exited(worker);
      const maxRss = rss.stop();

      const { unique, duplicates } = await tally(redis.client, out);
      const dead = (await redis.client.lrange(deadKey, 0, -1)).map((d) => JSON.parse(d) as { reason: string; payload: string });
      const wrong: string[] = [];
      const deadIds = new Set<number>();
      for (const entry of dead) {
        const deadId = Number(/"id": ?(\d+)/.exec(entry.payload)?.[1]);
        deadIds.add(deadId);
        const k = expected.get(deadId);
        if (!k) wrong.push(`good message ${deadId} dead-lettered (${entry.reason})`);
        else if (POISON[k].reason !== entry.reason)
          wrong.push(`${k} poison ${deadId}: reason ${entry.reason}, expected ${POISON[k].reason}`);
      }
      const lostGood = GOOD - [...unique].filter((x) => x <= GOOD).length;
      const lostPoison = [...expected.keys()].filter((x) => !deadIds.has(x)).length;
      report({
        scenario: `4. poison ${expected.size} among ${GOOD} good, ${kind}`,
        messages: GOOD + expected.size,
        lost: lostGood + lostPoison,
        duplicates: duplicates + dead.length - deadIds.size,
        recovery: `all settled in ${took} ms`,
        maxRss,
      });
      assert.ifError(unfinished);
      assert.equal(code, 0);
      assert.deepEqual(wrong.slice(0, 10), [], 'every dead letter is poison with the right reason');
      assert.equal(lostGood, 0, 'every good message processed');
      assert.equal(lostPoison, 0, 'every poison message dead-lettered');
      assert.ok(![...unique].some((x) => x > GOOD), 'no poison message reached the output');
      assert.equal(dead.length, deadIds.size, 'each poison message dead-lettered once');
      assert.equal(duplicates, 0);
    });
  }
});
