// Start-up cost of `pythia run` as deployed: spawn to /readyz 200 and RSS at ready and after 2 s idle,
// for one at-least-once list pipeline with a module handler and metrics on (no messages).
// Usage: node bench/startup.mjs [--runs N] [--root DIR] [--redis URL] [--messages N] [--log] [-- extra node flags]
// (--messages: after the idle sample, N messages are pushed and RSS is sampled during and after the drain.)
// (--log prints each worker's stderr once it stopped.)
// Without --redis it starts its own redis-server on a free port. Prints the medians.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i < 0 ? dflt : argv[i + 1];
};
const dash = argv.indexOf('--');
const nodeFlags = dash < 0 ? [] : argv.slice(dash + 1);
const runs = Number(opt('--runs', '7'));
const root = path.resolve(opt('--root', path.dirname(path.dirname(fileURLToPath(import.meta.url)))));

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
// User + system CPU time of a process so far (clock ticks of 10 ms): steadier than wall time on a loaded machine.
const cpuMs = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

let redis;
let url = opt('--redis');
if (!url) {
  const port = await freePort();
  redis = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  url = `redis://127.0.0.1:${port}`;
  await sleep(300);
}
const dir = mkdtempSync(path.join(tmpdir(), 'pythia-startup-'));
writeFileSync(path.join(dir, 'noop.mjs'), 'export default function noop() {}\n');

const messages = Number(opt('--messages', '0'));
const body = JSON.stringify({ id: 0, pad: 'x'.repeat(64) });
/** Pushes the messages, waits until the worker counted them all, and samples RSS: peak, then 2 s and 20 s after. */
async function drain(key, port, pid) {
  const { Redis } = await import('ioredis');
  const client = new Redis(url);
  const start = performance.now();
  try {
    for (let i = 0; i < messages; i += 1000) {
      const batch = Array.from({ length: Math.min(1000, messages - i) }, () => body);
      await client.lpush(key, ...batch);
    }
  } finally {
    client.disconnect();
  }
  let peak = 0;
  let rate = 0;
  for (const t0 = performance.now(); performance.now() - t0 < 120_000;) {
    peak = Math.max(peak, rssMb(pid));
    const text = await globalThis.fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    let done = 0;
    for (const m of text.matchAll(/^pythia_messages_total\{[^}]*outcome="ok"[^}]*\} (\S+)$/gm)) done += Number(m[1]);
    if (done >= messages) {
      rate = messages / ((performance.now() - start) / 1000);
      break;
    }
    await sleep(20);
  }
  await sleep(2000);
  const after2s = rssMb(pid);
  await sleep(18_000);
  return { rate, peakRss: peak, drained2s: after2s, drained20s: rssMb(pid) };
}

const rows = [];
try {
  for (let run = 0; run < runs; run++) {
    const port = await freePort();
    const file = path.join(dir, `p${run}.yml`);
    writeFileSync(
      file,
      `name: startup-${run}\nredis: {url: "${url}"}\nsource: {list: {key: "startup:${run}", batch_size: 100, delivery: at-least-once}}\n` +
        `handler: {module: "${path.join(dir, 'noop.mjs')}"}\nconcurrency: 200\nmetrics: {enabled: true, host: 127.0.0.1, port: ${port}}\n`,
    );
    const t0 = performance.now();
    const child = spawn(process.execPath, [...nodeFlags, path.join(root, 'bin', 'pythia.js'), 'run', file], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    child.stderr.on('data', (d) => (log += d));
    const exited = new Promise((r) => child.once('exit', r));
    try {
      for (;;) {
        const status = await globalThis.fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.status,
          () => 0,
        );
        if (status === 200) break;
        if (child.exitCode !== null || performance.now() - t0 > 30_000) throw new Error(`never ready:\n${log}`);
        await sleep(5);
      }
      const readyMs = performance.now() - t0;
      const readyRss = rssMb(child.pid);
      const readyCpu = cpuMs(child.pid);
      await sleep(2000);
      const row = { readyMs, readyCpu, readyRss, idleRss: rssMb(child.pid) };
      if (messages > 0) Object.assign(row, await drain(`startup:${run}`, port, child.pid));
      rows.push(row);
    } finally {
      child.kill('SIGTERM');
      await exited;
      if (argv.includes('--log')) process.stderr.write(log);
    }
  }
} finally {
  redis?.kill('SIGTERM');
}
const m = (k) => median(rows.map((r) => r[k]));
console.log(
  `${root}: ${runs} runs, median ready ${m('readyMs').toFixed(0)} ms (min ${Math.min(...rows.map((r) => r.readyMs)).toFixed(0)}), CPU to ready ${m('readyCpu')} ms, ` +
    `RSS at ready ${m('readyRss').toFixed(1)} MB, idle after 2 s ${m('idleRss').toFixed(1)} MB` +
    (messages > 0
      ? `; ${messages} messages at ${m('rate').toFixed(0)} msg/s (push included): peak RSS ${m('peakRss').toFixed(1)} MB, 2 s after ${m('drained2s').toFixed(1)} MB, 20 s after ${m('drained20s').toFixed(1)} MB`
      : ''),
);
