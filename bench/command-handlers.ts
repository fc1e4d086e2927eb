// Throughput of command handlers with a no-op Python handler: persistent mode vs per-message mode.
// Usage: node --import tsx bench/command-handlers.ts [--persistent N] [--per-message N] [--concurrency C] [--instances I]
// Uses a private redis-server (never the shared one). Messages are pushed in one LPUSH once the worker
// is consuming; the clock runs from the push until the queue and the processing list are empty.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { loadPipelineText } from '../src/config/index.ts';
import { createLogger } from '../src/runtime/logger.ts';
import { Worker } from '../src/runtime/worker.ts';
import { startRedis } from '../src/testing/redis-server.ts';

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
  const yaml = `version: 1
name: ${key}
source:
  list: {key: ${key}, batch_size: 100, block_timeout_ms: 100}
handler:
${handler}
concurrency: ${concurrency}
resilience: {processing_timeout_ms: 30000, circuit_breaker: {enabled: false}}
metrics: {enabled: false}
`;
  const file = path.join(dir, `${key}.yml`);
  writeFileSync(file, yaml);
  const loaded = await loadPipelineText(file, yaml);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  const worker = await Worker.start([loaded.pipeline], { redisUrl: server.url, logger });
  await new Promise((r) => setTimeout(r, 300)); // children started, first fetch blocking
  const body = JSON.stringify({ order: 1, items: ['a', 'b'], note: 'benchmark' });
  const started = performance.now();
  for (let sent = 0; sent < count; sent += 1000)
    await redis.lpush(key, ...Array.from({ length: Math.min(1000, count - sent) }, () => body));
  for (;;) {
    const processing = await redis.keys(`{${key}}:processing:*`);
    const left = (await redis.llen(key)) + (processing.length > 0 ? await redis.llen(processing[0] as string) : 0);
    if (left === 0) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const seconds = (performance.now() - started) / 1000;
  await worker.stop(5000);
  const dead = await redis.llen(`${key}:dead`);
  const rate = count / seconds;
  console.log(
    `${label.padEnd(34)} ${String(count).padStart(6)} msgs  ${seconds.toFixed(2).padStart(6)} s  ${rate.toFixed(0).padStart(7)} msg/s${dead ? `  (${dead} dead-lettered!)` : ''}`,
  );
  return rate;
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
