import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { freePort } from '../helpers/redis-server.ts';
import { PipelineDir, exited, spawnWorker } from '../helpers/pipelines.ts';
import { waitFor } from '../helpers/wait.ts';

describe('signals while the worker is still starting', () => {
  const dir = new PipelineDir();
  after(() => dir.remove());

  it('Redis unreachable: the first SIGTERM is held for the drain, a second exits at once (130)', async () => {
    // A port nobody listens on: start-up waits for Redis indefinitely.
    const port = await freePort();
    const file = dir.write('unreachable', `
name: unreachable
redis: {url: "redis://127.0.0.1:${port}/0", connection_timeout_ms: 500}
source: {list: {key: q}}
handler: {module: "{{support}}/handlers/record.mjs"}
metrics: {enabled: false}
`);
    const worker = spawnWorker([file], { PYTHIA_LOG_LEVEL: 'info' });
    await waitFor(() => `a redis connection error logged:\n${worker.output()}`, () => worker.output().includes('redis connection error'), { timeoutMs: 15_000 });
    worker.kill('SIGTERM');
    await waitFor(() => `the first signal logged during start-up:\n${worker.output()}`, () => worker.output().includes('signal received while starting'), { timeoutMs: 5000 });
    assert.equal(worker.exitCode, null, 'the first signal alone waits for start-up');
    worker.kill('SIGTERM');
    try {
      await waitFor(() => `the worker to exit on the second signal:\n${worker.output()}`, () => worker.exitCode !== null || worker.signalCode !== null, { timeoutMs: 5000 });
    } finally {
      if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    }
    assert.equal(await exited(worker), 130, worker.output());
  });
});
