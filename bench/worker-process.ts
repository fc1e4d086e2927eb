import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { cpuSeconds, freePort, rssMb } from './process-probe.ts';
import { prefill } from './pythia.ts';
import { benchBody, benchPipelineFile, type BenchPipelineOptions, type Kind, type Result } from './scenario.ts';

const BIN = fileURLToPath(new URL('../bin/pythia.js', import.meta.url));

async function get(url: string): Promise<{ status: number; text: string } | undefined> {
  try {
    const response = await fetch(url);
    return { status: response.status, text: await response.text() };
  } catch {
    return undefined;
  }
}

/** Finished messages (ok + dead-lettered + dropped) in the worker's metrics. */
function finished(text: string): number {
  let total = 0;
  for (const match of text.matchAll(/^pythia_messages_total\{[^}]*outcome="(ok|dead_lettered|dropped)"[^}]*\} (\S+)$/gm))
    total += Number(match[2]);
  return total;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Messages the worker has taken from the list or stream so far. */
async function taken(kind: Kind, client: Redis, key: string, total: number): Promise<number> {
  if (kind === 'stream') {
    const group = ((await client.xinfo('GROUPS', key).catch(() => [])) as unknown[][])[0];
    return group ? Number(group[group.indexOf('entries-read') + 1]) : 0;
  }
  return total - (await client.llen(key));
}

/** Whether messages still wait in the list or stream, or sit in a processing hash (channels: never). */
async function sourceHoldsWork(kind: Kind, client: Redis, key: string, n: number): Promise<boolean> {
  if (kind === 'channel') return false;
  if (kind === 'stream') {
    const groups = (await client.xinfo('GROUPS', key).catch(() => [])) as unknown[][];
    const group = groups[0];
    if (!group) return true;
    const field = (name: string) => Number(group[group.indexOf(name) + 1]);
    return field('entries-read') < n || field('pending') > 0;
  }
  if ((await client.llen(key)) > 0) return true;
  if (kind === 'list-amo') return false;
  const processing = await client.keys(`{${key}}:processing:*`);
  for (const p of processing) if ((await client.hlen(p)) > 0) return true;
  return false;
}

/**
 * As deployed: `pythia run` in a process of its own (the built package when dist/ exists, as after
 * `npm ci`), metrics on, default log level, the no-op .mjs handler. Lists and streams are prefilled
 * with `warm` + n messages; channel messages are published once the worker is ready. The first `warm`
 * messages are not timed: a fresh process runs its first few hundred thousand messages about half as
 * fast as it runs once its JIT has compiled the hot path (measured: 92k, 165k, 197k msg/s over three
 * successive 200k drains of one process), and a deployed worker runs for hours. Then the clock runs
 * until the worker's own pythia_messages_total counts every message. The figures are the worker's own:
 * CPU time and RSS from /proc, start-up time (spawn to /readyz 200), RSS when idle after the drain.
 * `pipeline` swaps the handler or the concurrency (e.g. a persistent command handler).
 */
export async function workerProcessDrain(
  kind: Kind,
  client: Redis,
  url: string,
  n: number,
  run: number,
  warm = n,
  pipeline: Pick<BenchPipelineOptions, 'handler' | 'concurrency'> = {},
): Promise<Result> {
  const name = `deployed-${kind}-${run}`;
  const key = `bench:${name}`;
  const total = warm + n;
  if (kind !== 'channel') await prefill(kind, client, key, total);
  const port = await freePort();
  const file = benchPipelineFile(kind, name, url, { ...pipeline, metricsPort: port });
  const spawned = performance.now();
  // PYTHIA_BENCH_WORKER_NODE_ARGS: node flags for the worker process only, e.g. --initial-old-space-size=128
  // (see docs/performance.md: some V8 heap flags are refused in NODE_OPTIONS).
  const nodeArgs = (process.env.PYTHIA_BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, BIN, 'run', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  const pid = child.pid as number;
  // The default log level (info) writes a few lines at start and stop: kept, and shown only if the run fails.
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const exited = new Promise((r) => child.once('exit', r));
  let peak = 0;
  const base = `http://127.0.0.1:${port}`;
  try {
    // Ready: the metrics server answers /readyz 200 once every pipeline consumes.
    for (;;) {
      const ready = await get(`${base}/readyz`);
      if (ready?.status === 200) break;
      if (child.exitCode !== null || performance.now() - spawned > 30_000)
        throw new Error(`pythia run (${kind}) never became ready:\n${log}`);
      await sleep(5);
    }
    const readyMs = performance.now() - spawned;
    const publish = async (from: number, count: number) => {
      for (let i = from; i < from + count; i += 1000) {
        const pipe = client.pipeline();
        for (let j = i; j < Math.min(from + count, i + 1000); j++) pipe.publish(key, benchBody(j));
        await pipe.exec();
      }
    };
    // Warm-up, untimed.
    if (kind === 'channel') {
      await publish(0, warm);
      while (finished((await get(`${base}/metrics`))?.text ?? '') < warm && performance.now() - spawned < 120_000) await sleep(20);
    } else {
      while ((await taken(kind, client, key, total)) < warm && performance.now() - spawned < 120_000) await sleep(2);
    }
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    if (kind === 'channel') await publish(warm, n);
    // Redis is polled while the source still holds work (a scrape costs the worker CPU: default metrics),
    // then the worker's own count, until every message is finished.
    let done = 0;
    let t1 = t0;
    for (;;) {
      peak = Math.max(peak, rssMb(pid));
      t1 = performance.now();
      if (t1 - t0 > 120_000) break;
      if (await sourceHoldsWork(kind, client, key, total)) {
        await sleep(5);
        continue;
      }
      const metrics = await get(`${base}/metrics`);
      done = metrics ? finished(metrics.text) : done;
      t1 = performance.now();
      if (done >= total) break;
      await sleep(5);
    }
    const seconds = (t1 - t0) / 1000;
    const cpu = cpuSeconds(pid) - cpu0;
    // Idle: what the worker holds once the work is done (after a GC had a chance to run).
    await sleep(2000);
    const idleRssMb = rssMb(pid);
    const errors = kind === 'channel' ? total - done : await client.llen(`${key}:dead`);
    done -= warm;
    return {
      scenario: `drain ${kind}`,
      kind,
      system: 'deployed',
      messages: done,
      msgPerSec: done / seconds,
      cpuPercent: (cpu / seconds) * 100,
      cpuUsPerMsg: (cpu * 1e6) / Math.max(1, done),
      peakRssMb: Math.round(peak),
      idleRssMb: Math.round(idleRssMb),
      readyMs,
      errors,
    };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}
