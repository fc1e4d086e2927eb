// Throughput of command handlers with a no-op Python handler: persistent mode vs per-message mode.
// Usage: node --import tsx bench/command-handlers.ts [--persistent N] [--per-message N] [--concurrency C] [--instances I]
// Uses a private redis-server (never the shared one). Messages are pushed in one LPUSH once the worker
// is consuming; the clock runs from the push until the queue and the processing list are empty.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../src/runtime/logger.ts';
import { startRedis } from '../src/testing/redis-server.ts';
import { pushBodies, reportRun, startListWorker } from './list-pipeline.ts';

const { values } = parseArgs({
  options: {
    persistent: { type: 'string', default: '5000' },
    'per-message': { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '16' },
    instances: { type: 'string', default: '1,2' },
  },
});
const here = path.dirname(fileURLToPath(import.meta.url));
const concurrency = Number(values.concurrency);
const server = await startRedis();
const redis = server.client();
const dir = mkdtempSync(path.join(tmpdir(), 'pythia-bench-'));
const logger = createLogger('warn');

async function run(label: string, handler: string, count: number): Promise<number> {
  const key = `bench-${label.replace(/[^a-z0-9]+/g, '-')}`;
  const worker = await startListWorker({ key, handler, concurrency, dir, redisUrl: server.url, logger });
  const started = performance.now();
  await pushBodies(redis, key, count);
  for (;;) {
    const processing = await redis.keys(`{${key}}:processing:*`);
    const left = (await redis.llen(key)) + (processing.length > 0 ? await redis.hlen(processing[0] as string) : 0);
    if (left === 0) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const seconds = (performance.now() - started) / 1000;
  await worker.stop(5000);
  return reportRun(label, 34, count, seconds, await redis.llen(`${key}:dead`));
}

try {
  console.log(`no-op Python handler, concurrency ${concurrency}, ${process.platform} node ${process.version}`);
  const noopPersistent = path.join(here, 'handlers/noop_persistent.py');
  const noopPerMessage = path.join(here, 'handlers/noop_per_message.py');
  for (const instances of values.instances.split(',').map(Number)) {
    await run(
      `persistent, instances ${instances}`,
      `  command: ["python3", "${noopPersistent}"]\n  mode: persistent\n  instances: ${instances}`,
      Number(values.persistent),
    );
  }
  await run('per-message', `  command: ["python3", "${noopPerMessage}"]`, Number(values['per-message']));
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
