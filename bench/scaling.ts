// Replicas: 1, 2 and 4 `pythia run` processes on one list (at-least-once) and on one stream consumer
// group, with a no-op handler (CPU-bound) and a 5 ms one (I/O-bound). Prints a Markdown table.
// Usage: node --import tsx bench/scaling.ts [--n 100000] [--replicas 1,2,4] [--concurrency 200]
// Uses a private redis-server (never the shared one).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startRedis } from '../src/testing/redis-server.ts';
import { cpuSeconds, freePort } from './process-probe.ts';
import { prefill } from './pythia.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    replicas: { type: 'string', default: '1,2,4' },
    concurrency: { type: 'string', default: '200' },
  },
});
const N = Number(values.n);
const REPLICAS = values.replicas.split(',').map(Number);
const BIN = fileURLToPath(new URL('../bin/pythia.js', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'pythia-scaling-'));
writeFileSync(path.join(dir, 'noop.mjs'), 'export default function noop() {}\n');
writeFileSync(path.join(dir, 'sleep5.mjs'), 'export default function sleep5() { return new Promise((r) => setTimeout(r, 5)); }\n');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function scrape(port: number, what: string): Promise<string | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${what}`);
    return response.status === 200 ? await response.text() : undefined;
  } catch {
    return undefined;
  }
}

const finished = (text: string | undefined): number =>
  [...(text ?? '').matchAll(/^pythia_messages_total\{[^}]*outcome="(ok|dead_lettered)"[^}]*\} (\S+)$/gm)].reduce(
    (sum, m) => sum + Number(m[2]),
    0,
  );

interface Row {
  kind: string;
  handler: string;
  replicas: number;
  msgPerSec: number;
  cpuPercent: number;
  redisCpuPercent: number;
}

const server = await startRedis();
const client = server.client();
const redisPid = Number(/process_id:(\d+)/.exec(await client.info('server'))?.[1]);
const rows: Row[] = [];
let run = 0;
try {
  for (const kind of ['list-alo', 'stream'] as const) {
    for (const handler of ['noop', 'sleep5']) {
      for (const replicas of REPLICAS) {
        const key = `scale:${++run}`;
        await prefill(kind, client, key, N);
        const source =
          kind === 'stream'
            ? `stream: {key: "${key}", consumer_group: g, consumer: "\${BENCH_CONSUMER}", start_id: "0", batch_size: 100}`
            : `list: {key: "${key}", batch_size: 100, delivery: at-least-once}`;
        const children: { child: ChildProcess; port: number }[] = [];
        for (let r = 0; r < replicas; r++) {
          const port = await freePort();
          const file = path.join(dir, `${run}-${r}.yml`);
          writeFileSync(
            file,
            `name: scale\nredis: {url: "${server.url}"}\nsource: {${source}}\nhandler: {module: "${path.join(dir, `${handler}.mjs`)}"}\nconcurrency: ${values.concurrency}\nmetrics: {enabled: true, host: 127.0.0.1, port: ${port}}\n`,
          );
          const child = spawn(process.execPath, [BIN, 'run', file], {
            stdio: 'ignore',
            env: { ...process.env, BENCH_CONSUMER: `c${r}` },
          });
          children.push({ child, port });
        }
        try {
          // The clock starts when the first replica is ready (the others start meanwhile: as in a deployment).
          for (;;) {
            const ready = await Promise.all(children.map((c) => scrape(c.port, '/readyz')));
            if (ready.some((r) => r !== undefined)) break;
            await sleep(5);
          }
          const t0 = performance.now();
          const cpu0 = children.map((c) => cpuSeconds(c.child.pid as number));
          const redis0 = cpuSeconds(redisPid);
          let t1 = t0;
          for (;;) {
            const done = (await Promise.all(children.map((c) => scrape(c.port, '/metrics')))).reduce((s, t) => s + finished(t), 0);
            t1 = performance.now();
            if (done >= N || t1 - t0 > 300_000) break;
            await sleep(20);
          }
          const seconds = (t1 - t0) / 1000;
          const cpu = children.reduce((s, c, i) => s + cpuSeconds(c.child.pid as number) - (cpu0[i] as number), 0);
          rows.push({
            kind,
            handler: handler === 'noop' ? 'no-op (CPU-bound)' : '5 ms (I/O-bound)',
            replicas,
            msgPerSec: N / seconds,
            cpuPercent: (cpu / seconds) * 100,
            redisCpuPercent: ((cpuSeconds(redisPid) - redis0) / seconds) * 100,
          });
          process.stderr.write(`${kind} ${handler} ×${replicas}: ${Math.round(N / seconds)} msg/s\n`);
        } finally {
          for (const { child } of children) child.kill('SIGTERM');
          await Promise.all(children.map(({ child }) => new Promise((r) => (child.exitCode !== null ? r(0) : child.once('exit', r)))));
        }
        await client.flushall();
      }
    }
  }
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
const fmt = (v: number) => Math.round(v).toLocaleString('en-US');
const lines = [
  `Scaling: ${N} messages, concurrency ${values.concurrency} per replica, batch_size 100, metrics on; ${cpus().length} cores (Redis and every replica share them)`,
  '',
  '| source | handler | replicas | msg/s | vs 1 replica | workers CPU % | Redis CPU % |',
  '|---|---|---|---|---|---|---|',
];
for (const row of rows) {
  const one = rows.find((r) => r.kind === row.kind && r.handler === row.handler && r.replicas === 1);
  lines.push(
    `| ${row.kind} | ${row.handler} | ${row.replicas} | ${fmt(row.msgPerSec)} | ${one ? (row.msgPerSec / one.msgPerSec).toFixed(2) + '×' : '-'} | ${fmt(row.cpuPercent)} | ${fmt(row.redisCpuPercent)} |`,
  );
}
process.stdout.write(lines.join('\n') + '\n');
