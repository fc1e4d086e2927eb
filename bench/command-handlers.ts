// Throughput of command handlers with a no-op Python handler: persistent mode vs per-message mode.
// Usage: node --import tsx bench/command-handlers.ts [--persistent N] [--per-message N] [--concurrency C,C]
//        [--instances I,I] [--runs R] [--no-deployed]
// Uses a private redis-server (never the shared one). In-process rows: messages are pushed in LPUSHes of
// 1000 once the worker is consuming; the clock runs from the push until the queue and the processing hash
// are empty. Deployed rows: `pythia run` in its own process, metrics on, the list prefilled, timed after a
// warm-up by the worker's own message count (bench/worker-process.ts). Medians of --runs runs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../src/runtime/logger.ts';
import { startRedis } from '../src/testing/redis-server.ts';
import { pushBodies, reportRun, startListWorker } from './list-pipeline.ts';
import { workerProcessDrain } from './worker-process.ts';
import { median } from './stats.ts';

const { values } = parseArgs({
  options: {
    persistent: { type: 'string', default: '20000' },
    'per-message': { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '16,100' },
    instances: { type: 'string', default: '1,2' },
    runs: { type: 'string', default: '3' },
    'no-deployed': { type: 'boolean', default: false },
    // The interpreter: a version manager's shim (pyenv's python3 is a shell script) adds ~300 ms per start.
    python: { type: 'string', default: process.env.PYTHON ?? 'python3' },
  },
});
const here = path.dirname(fileURLToPath(import.meta.url));
const list = (text: string) => text.split(',').map(Number);
const runs = Number(values.runs);
const server = await startRedis();
const redis = server.client();
const dir = mkdtempSync(path.join(tmpdir(), 'pythia-bench-'));
const logger = createLogger('warn');
const WIDTH = 52;

async function inProcess(label: string, handler: string, count: number, concurrency: number): Promise<number> {
  const key = `bench-${label.replace(/[^a-z0-9]+/g, '-')}`;
  await redis.del(key, `${key}:dead`);
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
  return reportRun(label, WIDTH, count, seconds, await redis.llen(`${key}:dead`));
}

let deployedRun = 0;
async function deployed(label: string, handler: string, count: number, concurrency: number): Promise<number> {
  const warm = Math.min(count, 5000);
  const result = await workerProcessDrain('list-alo', redis, server.url, count, 1000 + deployedRun++, warm, { handler, concurrency });
  const seconds = result.messages / result.msgPerSec;
  const rate = reportRun(label, WIDTH, result.messages, seconds, result.errors);
  console.log(`${''.padEnd(WIDTH)}   worker: ${result.cpuUsPerMsg.toFixed(1)} µs CPU/msg, peak RSS ${result.peakRssMb} MB`);
  return rate;
}

try {
  console.log(`no-op Python handler (${values.python}), ${process.platform} node ${process.version}, ${runs} runs each`);
  const noopPersistent = path.join(here, 'handlers/noop_persistent.py');
  const noopPerMessage = path.join(here, 'handlers/noop_per_message.py');
  const persistent = (instances: number) =>
    `{command: ["${values.python}", "${noopPersistent}"], mode: persistent, instances: ${instances}}`;
  const medians: [string, number][] = [];
  for (const concurrency of list(values.concurrency)) {
    for (const instances of list(values.instances)) {
      const rows: [string, (label: string) => Promise<number>][] = [
        [
          `persistent, instances ${instances}, concurrency ${concurrency}`,
          (l) => inProcess(l, persistent(instances), Number(values.persistent), concurrency),
        ],
      ];
      if (!values['no-deployed'])
        rows.push([
          `deployed persistent, instances ${instances}, concurrency ${concurrency}`,
          (l) => deployed(l, persistent(instances), Number(values.persistent), concurrency),
        ]);
      for (const [label, once] of rows) {
        const rates: number[] = [];
        for (let run = 0; run < runs; run++) rates.push(await once(label));
        medians.push([label, median(rates)]);
      }
    }
  }
  if (Number(values['per-message']) > 0) {
    const rate = await inProcess(
      'per-message, concurrency 16',
      `{command: ["${values.python}", "${noopPerMessage}"]}`,
      Number(values['per-message']),
      16,
    );
    medians.push(['per-message, concurrency 16', rate]);
  }
  console.log('\nmedians');
  for (const [label, rate] of medians) console.log(`${label.padEnd(WIDTH)} ${rate.toFixed(0).padStart(7)} msg/s`);
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
