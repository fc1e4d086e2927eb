import assert from 'node:assert/strict';
import { unlinkSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { exited, PipelineDir, pipelineYaml, RECORD_HANDLER, spawnWorker } from '../helpers/pipelines.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { sleep, waitFor } from '../helpers/wait.ts';

const yaml = (name: string, out: string, extra = '') =>
  pipelineYaml(
    name,
    {
      source: `  list: {key: "q:${name}", batch_size: 10, block_timeout_ms: 200}`,
      handler: RECORD_HANDLER,
      output: `{list: "${out}"}`,
      concurrency: 5,
      shutdown: '{grace_period_ms: 10000}',
    },
    extra,
  );

const ids = async (client: Redis, key: string) => (await client.lrange(key, 0, -1)).map((r) => (JSON.parse(r) as { id: number }).id);

/** The `msg` of every JSON log line of a child's output. */
const messages = (output: string) =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => (JSON.parse(l) as { msg: string }).msg);

describe('pythia run --watch (hot reload)', () => {
  const redis = usePrivateRedis();

  it('picks up a valid edit, rejects an invalid one with FILE:LINE:COL lines, and loses no message', async () => {
    const name = 'reload';
    const file = redis.dir.write(name, yaml(name, `${name}:out-a`));
    const other = redis.dir.write('bystander', yaml('bystander', 'bystander:out'));
    const worker = spawnWorker([file, other], { REDIS_URL: redis.server.url, PYTHIA_LOG_FORMAT: 'json', PYTHIA_LOG_LEVEL: 'info' }, [
      '--watch',
    ]);
    try {
      let next = 1;
      const push = async (n: number) => {
        const batch = Array.from({ length: n }, () => JSON.stringify({ id: next++, sleep: 10 }));
        await redis.client.rpush(`q:${name}`, ...batch);
      };
      await push(20);
      await redis.client.rpush('q:bystander', JSON.stringify({ id: 1 }));
      await waitFor(
        () => `20 results in ${name}:out-a:\n${worker.output()}`,
        async () => (await redis.client.llen(`${name}:out-a`)) === 20,
      );

      // A producer keeps going through both edits.
      let producing = true;
      const producer = (async () => {
        while (producing) {
          await push(5);
          await sleep(30); // the producer's pace
        }
      })();

      // Valid edit: the output key changes; the pipeline drains and restarts.
      redis.dir.write(name, yaml(name, `${name}:out-b`));
      await waitFor(
        () => `the edit was picked up\n${worker.output()}`,
        async () => (await redis.client.llen(`${name}:out-b`)) > 0,
        { timeoutMs: 15_000 },
      );

      // Invalid edit: a misspelt key and a wrong type; the running pipeline keeps its configuration.
      redis.dir.write(name, yaml(name, `${name}:out-c`, 'concurency: 3\nresilience: {max_retries: lots}'));
      await waitFor(
        () => `the invalid edit rejected:\n${worker.output()}`,
        () => worker.output().includes('reload rejected'),
        { timeoutMs: 10_000 },
      );
      const before = await redis.client.llen(`${name}:out-b`);
      await waitFor(
        'still consuming with the previous configuration',
        async () => (await redis.client.llen(`${name}:out-b`)) > before + 10,
        { timeoutMs: 10_000 },
      );

      producing = false;
      await producer;
      const total = next - 1;
      await waitFor(
        `all ${total} messages in ${name}:out-a and ${name}:out-b`,
        async () => (await redis.client.llen(`${name}:out-a`)) + (await redis.client.llen(`${name}:out-b`)),
        { until: (n) => n >= total, timeoutMs: 15_000 },
      );
      const done = [...(await ids(redis.client, `${name}:out-a`)), ...(await ids(redis.client, `${name}:out-b`))].sort((a, b) => a - b);
      assert.deepEqual(
        done,
        Array.from({ length: total }, (_, i) => i + 1),
        'every message processed exactly once across the reload',
      );
      assert.equal(await redis.client.llen(`${name}:out-c`), 0, 'the invalid edit never ran');
      assert.equal(await redis.client.llen(`q:${name}`), 0);
      assert.deepEqual(await redis.client.keys(`{q:${name}}:processing:*`), []);

      const rejected = messages(worker.output()).filter((m) => m.startsWith(file) || m.startsWith('reload rejected'));
      assert.ok(
        rejected.some((m) => new RegExp(`^${escape(file)}:\\d+:\\d+: `).test(m)),
        rejected.join('\n'),
      );
      assert.ok(
        rejected.some((m) => m.includes('concurency')),
        rejected.join('\n'),
      );
      console.log(`log lines of the rejected edit:\n${rejected.join('\n')}`);

      // The other pipeline was never restarted: its one message was processed once.
      assert.deepEqual(await ids(redis.client, 'bystander:out'), [1]);
      assert.equal(messages(worker.output()).filter((m) => m === 'pipeline reloaded').length, 1);
    } finally {
      worker.kill('SIGTERM');
      assert.equal(await exited(worker), 0, worker.output());
    }
  });

  it('a watched directory: a new file starts its pipeline, a removed file stops it, SIGHUP reloads', async () => {
    const sub = new PipelineDir();
    try {
      sub.write('first', yaml('first', 'first:out'));
      const worker = spawnWorker([sub.dir], { REDIS_URL: redis.server.url, PYTHIA_LOG_FORMAT: 'json', PYTHIA_LOG_LEVEL: 'info' }, [
        '--watch',
      ]);
      try {
        await redis.client.rpush('q:first', JSON.stringify({ id: 1 }));
        await waitFor(
          () => `one result in first:out:\n${worker.output()}`,
          async () => (await redis.client.llen('first:out')) === 1,
        );

        const second = sub.write('second', yaml('second', 'second:out'));
        await redis.client.rpush('q:second', JSON.stringify({ id: 1 }));
        await waitFor(
          () => `new file started\n${worker.output()}`,
          async () => (await redis.client.llen('second:out')) === 1,
          { timeoutMs: 10_000 },
        );

        unlinkSync(second);
        await waitFor(
          () => `the removed file's pipeline stopped:\n${worker.output()}`,
          () => messages(worker.output()).includes('pipeline stopped (file removed)'),
          { timeoutMs: 10_000 },
        );
        await redis.client.rpush('q:second', JSON.stringify({ id: 2 }));
        await redis.client.rpush('q:first', JSON.stringify({ id: 2 }));
        await waitFor('the other pipeline kept running', async () => (await redis.client.llen('first:out')) === 2);
        await sleep(300); // an idle period on purpose: the removed pipeline would take q:second's message in it
        assert.equal(await redis.client.llen('q:second'), 1, 'the removed pipeline no longer consumes');

        // SIGHUP: the edited file is reloaded (even if the watcher were off).
        sub.write('first', yaml('first', 'first:out-hup'));
        worker.kill('SIGHUP');
        await waitFor(
          () => `SIGHUP to reload every file:\n${worker.output()}`,
          () =>
            messages(worker.output()).includes('reloading every pipeline file') && messages(worker.output()).includes('pipeline reloaded'),
          { timeoutMs: 10_000 },
        );
        await redis.client.rpush('q:first', JSON.stringify({ id: 3 }));
        await waitFor(
          () => `one result in first:out-hup:\n${worker.output()}`,
          async () => (await redis.client.llen('first:out-hup')) === 1,
          { timeoutMs: 10_000 },
        );
      } finally {
        worker.kill('SIGTERM');
        assert.equal(await exited(worker), 0, worker.output());
      }
    } finally {
      sub.remove();
    }
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
