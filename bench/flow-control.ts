// Flow control benchmarks (docs/flow-control.md), with real `pythia run` processes on a private redis-server:
//   - ordering: the cost of `ordering` at 1, 100 and 10,000 distinct keys, beside the same drain without it;
//   - rate_limit: the observed rate against a global limit of 100, 1,000 and 10,000 /s, with 1 and 3 processes.
// Run: node --import tsx bench/flow-control.ts [--seconds 10] [--n 20000] [--only ordering|rate]
// Each run prints one line per case; the numbers go to docs/performance.md by hand.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { startRedis } from '../src/testing/redis-server.ts';

const BIN = fileURLToPath(new URL('../bin/pythia.js', import.meta.url));
const HANDLER = fileURLToPath(new URL('./handlers/stamp.mjs', import.meta.url));

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    n: { type: 'string', default: '20000' },
    only: { type: 'string', default: '' },
    concurrency: { type: 'string', default: '50' },
  },
});
const SECONDS = Number(values.seconds);
const N = Number(values.n);
const CONCURRENCY = Number(values.concurrency);

const dir = mkdtempSync(path.join(tmpdir(), 'pythia-flow-bench-'));

function pipelineFile(name: string, url: string, extra: string): string {
  const file = path.join(dir, `${name}.yml`);
  writeFileSync(
    file,
    [
      'version: 1',
      `name: ${name}`,
      `redis: {url: "${url}"}`,
      `source: {list: {key: "q:${name}", batch_size: 100}}`,
      `handler: {module: "${HANDLER}"}`,
      `concurrency: ${CONCURRENCY}`,
      `output: {list: "${name}:out"}`,
      'metrics: {enabled: false}',
      extra,
    ].join('\n'),
  );
  return file;
}

function spawnWorker(file: string): ChildProcess {
  return spawn(process.execPath, [BIN, 'run', file, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
}

async function stop(workers: ChildProcess[]): Promise<void> {
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.exitCode !== null) return resolve();
          w.once('exit', () => resolve());
          w.kill('SIGTERM');
        }),
    ),
  );
}

async function fill(client: Redis, key: string, bodies: string[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 5000) await client.lpush(key, ...bodies.slice(i, i + 5000));
}

/** Waits until `count` results are written; returns their stamps (ms), sorted. */
async function results(client: Redis, out: string, count: number, timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  while ((await client.llen(out)) < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const stamps = (await client.lrange(out, 0, -1)).map((r) => (JSON.parse(r) as { at: number }).at);
  return stamps.sort((a, b) => a - b);
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function orderingCase(client: Redis, url: string, keys: number | undefined, processes: number): Promise<number> {
  const name = `order-${keys ?? 'none'}-${processes}`;
  const bodies = Array.from({ length: N }, (_, i) => JSON.stringify({ key: keys === undefined ? undefined : `k${i % keys}`, i }));
  await fill(client, `q:${name}`, bodies);
  const file = pipelineFile(name, url, keys === undefined ? '' : 'ordering: {key: /key}');
  const workers = Array.from({ length: processes }, () => spawnWorker(file));
  const stamps = await results(client, `${name}:out`, N, 600_000);
  await stop(workers);
  const seconds = ((stamps.at(-1) as number) - (stamps[0] as number)) / 1000;
  const rate = stamps.length / seconds;
  console.log(
    `ORDERING | ${keys === undefined ? 'no ordering' : `${fmt(keys)} keys`} | ${processes} process(es) | ${fmt(stamps.length)} messages in ${fmt(seconds, 2)} s | ${fmt(rate)} msg/s`,
  );
  return rate;
}

async function rateCase(client: Redis, url: string, limit: number, processes: number): Promise<void> {
  const name = `rate-${limit}-${processes}`;
  const count = limit * SECONDS;
  await fill(
    client,
    `q:${name}`,
    Array.from({ length: count }, (_, i) => JSON.stringify({ i })),
  );
  const file = pipelineFile(name, url, `rate_limit: {max: ${limit}, per_ms: 1000}`);
  const workers = Array.from({ length: processes }, () => spawnWorker(file));
  const stamps = await results(client, `${name}:out`, count, SECONDS * 1000 * 5 + 60_000);
  await stop(workers);
  const burst = Math.max(1, Math.floor(limit / 10));
  const span = ((stamps.at(-1) as number) - (stamps[0] as number)) / 1000;
  // The steady rate: after the first burst, from its last message to the last one.
  const steady = (stamps.length - burst) / (((stamps.at(-1) as number) - (stamps[burst - 1] as number)) / 1000);
  console.log(
    `RATE | limit ${fmt(limit)}/s | ${processes} process(es) | ${fmt(stamps.length)} of ${fmt(count)} messages in ${fmt(span, 2)} s (expected ${fmt((count - burst) / limit, 2)} s) | steady ${fmt(steady)}/s = ${fmt((100 * steady) / limit, 1)}% of the limit`,
  );
}

const server = await startRedis();
const client = server.client();
try {
  if (values.only !== 'rate') {
    for (const processes of [1, 2]) {
      const base = await orderingCase(client, server.url, undefined, processes);
      for (const keys of [1, 100, 10_000]) {
        const rate = await orderingCase(client, server.url, keys, processes);
        console.log(
          `ORDERING | ${fmt(keys)} keys, ${processes} process(es): ${fmt((100 * rate) / base, 0)}% of the throughput without ordering`,
        );
      }
    }
  }
  if (values.only !== 'ordering') {
    for (const limit of [100, 1000, 10_000]) for (const processes of [1, 3]) await rateCase(client, server.url, limit, processes);
  }
} finally {
  client.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
