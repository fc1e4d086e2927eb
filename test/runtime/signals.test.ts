import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/redis-server.ts';
import { PipelineDir, exited, spawnWorker } from '../helpers/pipelines.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { waitFor } from '../helpers/wait.ts';

describe('signals while the worker is still starting', () => {
  const dir = new PipelineDir();
  const redis = usePrivateRedis();
  after(() => dir.remove());

  /** A pipeline on a port nobody listens on: its start-up waits for Redis indefinitely. */
  const unreachable = async (name: string) =>
    dir.write(
      name,
      `
name: ${name}
redis: {url: "redis://127.0.0.1:${await freePort()}/0", connection_timeout_ms: 500}
source: {list: {key: q}}
handler: {module: "{{support}}/handlers/record.mjs"}
metrics: {enabled: false}
`,
    );

  async function exitWithin(worker: ReturnType<typeof spawnWorker>, what: string, timeoutMs: number): Promise<number | null> {
    try {
      await waitFor(
        () => `${what}:\n${worker.output()}`,
        () => worker.exitCode !== null || worker.signalCode !== null,
        { timeoutMs },
      );
    } finally {
      if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    }
    return exited(worker);
  }

  it('Redis unreachable: the first SIGTERM exits at once (0), since no pipeline consumes and nothing is in flight', async () => {
    const worker = spawnWorker([await unreachable('unreachable')], { PYTHIA_LOG_LEVEL: 'info' });
    await waitFor(
      () => `a redis connection error logged:\n${worker.output()}`,
      () => worker.output().includes('redis connection error'),
      { timeoutMs: 15_000 },
    );
    worker.kill('SIGTERM');
    // Before, the signal was logged and held until start-up, which never comes: only a second signal (or SIGKILL) ended it.
    assert.equal(await exitWithin(worker, 'the worker to exit on the first signal', 5000), 0, worker.output());
    assert.match(worker.output(), /nothing is in flight, exiting now/);
  });

  it('one pipeline consuming, another waiting for Redis: the first SIGTERM is held for the drain, a second exits at once (130)', async () => {
    const consuming = dir.write(
      'consuming',
      `
name: consuming
redis: {url: "${redis.server.url}"}
source: {list: {key: q, block_timeout_ms: 100}}
handler: {module: "{{support}}/handlers/record.mjs"}
metrics: {enabled: false}
`,
    );
    const worker = spawnWorker([consuming, await unreachable('waiting')], { PYTHIA_LOG_LEVEL: 'info' });
    await waitFor(
      () => `the reachable pipeline to consume:\n${worker.output()}`,
      () => worker.output().includes('pipeline consuming') && worker.output().includes('redis connection error'),
      { timeoutMs: 15_000 },
    );
    worker.kill('SIGTERM');
    await waitFor(
      () => `the first signal logged during start-up:\n${worker.output()}`,
      () => worker.output().includes('signal received while starting: the worker drains'),
      { timeoutMs: 5000 },
    );
    assert.equal(worker.exitCode, null, 'the first signal alone waits for start-up');
    worker.kill('SIGTERM');
    assert.equal(await exitWithin(worker, 'the worker to exit on the second signal', 5000), 130, worker.output());
  });
});
