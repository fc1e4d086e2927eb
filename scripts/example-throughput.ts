// Throughput of the example list pipeline (pipelines/orders.yml) with a no-op handler, measured the way
// an operator would: `pythia produce FILE --count N`, then `pythia run FILE`, timed from the first
// message taken to an empty queue and processing list. Beside it, `redis-benchmark -t lpush,rpop`.
// Private redis-server on a free port; never the shared one.
// Usage: node --import tsx scripts/example-throughput.ts [N=200000] [RUNS=3] [CONCURRENCY...=10 200]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedis } from '../src/testing/redis-server.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const [nArg, runsArg, ...concurrencyArgs] = process.argv.slice(2);
const N = Number(nArg ?? 200_000);
const RUNS = Number(runsArg ?? 3);
const CONCURRENCY = concurrencyArgs.length > 0 ? concurrencyArgs.map(Number) : [10, 200];

const dir = mkdtempSync(path.join(tmpdir(), 'pythia-example-'));
writeFileSync(path.join(dir, 'noop.mjs'), 'export default async function noop() {}\n');
// The shipped example, with its handler swapped for a no-op and no output stream.
const example = readFileSync(path.join(root, 'pipelines/orders.yml'), 'utf8')
  .replace('module: ./handlers/orders.ts', `module: ${path.join(dir, 'noop.mjs')}`)
  .replace('  export: handle\n', '')
  .replace('schema: ./schemas/order.json', `schema: ${path.join(root, 'pipelines/schemas/order.json')}`)
  .replace(/\noutput:\n {2}stream:.*\n/, '\n');
const file = path.join(dir, 'orders-noop.yml');
writeFileSync(file, example + 'metrics: {enabled: true, host: 127.0.0.1, port: 0}\n');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const server = await startRedis();
const client = server.client();
const bin = path.join(root, 'bin/pythia.js');
try {
  for (const concurrency of CONCURRENCY) {
    const env = { ...process.env, REDIS_HOST: '127.0.0.1', REDIS_PORT: String(server.port), PYTHIA_MAX_CONCURRENT: String(concurrency) };
    const rates: number[] = [];
    for (let run = 1; run <= RUNS; run++) {
      await client.flushall();
      execFileSync(process.execPath, [bin, 'produce', file, '--count', String(N)], { env, stdio: 'ignore' });
      const worker = spawn(process.execPath, [bin, 'run', file, '--log-level', 'warn'], { env, stdio: 'ignore' });
      let first = 0;
      for (;;) {
        const left = await client.llen('task-queue');
        if (first === 0 && left < N) first = performance.now();
        const [processing] = await client.keys('{task-queue}:processing:*');
        if (left === 0 && (processing === undefined || (await client.hlen(processing)) === 0)) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      rates.push(Math.round(N / ((performance.now() - first) / 1000)));
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
    console.log(`pythia run, example list pipeline, concurrency ${concurrency}: ${rates.join(', ')} msg/s; median ${median(rates)}`);
  }
  const bench = execFileSync('redis-benchmark', ['-p', String(server.port), '-t', 'lpush,rpop', '-n', String(N), '-q'], {
    encoding: 'utf8',
  });
  for (const line of bench.split(/[\r\n]/).filter((l) => /requests per second/.test(l))) console.log(`redis-benchmark ${line.trim()}`);
} finally {
  await server.stop();
}
