// Throughput of a module handler that writes each message to a Redis list: one RPUSH per message
// (a per-message handler) vs one RPUSH of N per batch (handler.batch), in the same run.
// Usage: node --import tsx bench/batch-handlers.ts [--count N] [--concurrency C] [--sizes 10,100] [--runs R]
// Uses a private redis-server (never the shared one). Messages are pushed (LPUSH, 1000 per call) once the
// worker is consuming; the clock runs from the first push until the sink list holds every message.
// Variants alternate within each run, so drift in the machine's load falls on both alike.
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
    count: { type: 'string', default: '50000' },
    concurrency: { type: 'string', default: '200' },
    sizes: { type: 'string', default: '10,100' },
    runs: { type: 'string', default: '3' },
  },
});
const here = path.dirname(fileURLToPath(import.meta.url));
const writer = path.join(here, 'handlers/redis-writer.mjs');
const count = Number(values.count);
const concurrency = Number(values.concurrency);
const sizes = values.sizes.split(',').map(Number);
const server = await startRedis();
const redis = server.client();
const dir = mkdtempSync(path.join(tmpdir(), 'pythia-bench-batch-'));
const logger = createLogger('warn');
process.env.BENCH_REDIS_URL = server.url;

async function run(label: string, handler: string): Promise<number> {
  const key = `bench-${label.replace(/[^a-z0-9]+/g, '-')}`;
  const sink = `${key}:sink`;
  process.env.BENCH_SINK_KEY = sink;
  await redis.del(key, sink, `${key}:dead`);
  const worker = await startListWorker({ key, handler, concurrency, dir, redisUrl: server.url, logger });
  const started = performance.now();
  await pushBodies(redis, key, count);
  while ((await redis.llen(sink)) < count) await new Promise((r) => setTimeout(r, 5));
  const seconds = (performance.now() - started) / 1000;
  await worker.stop(5000);
  return reportRun(label, 36, count, seconds, await redis.llen(`${key}:dead`));
}

const results = new Map<string, number[]>();
try {
  console.log(
    `module handler writing to a Redis list, concurrency ${concurrency}, ${count} messages, ${process.platform} node ${process.version}`,
  );
  for (let i = 0; i < Number(values.runs); i++) {
    const variants: [string, string][] = [
      ['one by one (RPUSH per message)', `{module: "${writer}", export: one}`],
      ...sizes.map((size): [string, string] => [
        `batch ${size} (one RPUSH of ${size})`,
        `{module: "${writer}", export: bulk, batch: {max_size: ${size}, max_wait_ms: 5}}`,
      ]),
    ];
    for (const [label, handler] of variants) {
      const rate = await run(label, handler);
      results.set(label, [...(results.get(label) ?? []), rate]);
    }
  }
  console.log('\nmedian msg/s');
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const base = median(results.values().next().value as number[]);
  for (const [label, rates] of results)
    console.log(`${label.padEnd(36)} ${median(rates).toFixed(0).padStart(7)} msg/s  ×${(median(rates) / base).toFixed(2)}`);
} finally {
  const { close } = (await import(writer)) as { close: () => Promise<void> };
  await close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
