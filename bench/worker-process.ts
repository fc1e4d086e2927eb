import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { prefill } from './pythia.ts';
import { benchPipelineFile, type Result } from './scenario.ts';

const BIN = fileURLToPath(new URL('../bin/pythia.js', import.meta.url));

/** User + system CPU seconds of a process so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100;
  } catch {
    return 0;
  }
}

function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/**
 * `pythia run` in a process of its own drains a prefilled list (at-least-once, no-op handler), with
 * default metrics on. The figures are the worker's own: its RSS sampled from /proc, its CPU time.
 */
export async function workerProcessDrain(client: Redis, url: string, n: number, run: number): Promise<Result> {
  const name = `process-${run}`;
  const key = `bench:${name}`;
  await prefill('list-alo', client, key, n);
  const file = benchPipelineFile('list-alo', name, url, { metricsPort: 0 });
  const child = spawn(process.execPath, [BIN, 'run', file, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const pid = child.pid as number;
  let peak = 0;
  const started = performance.now();
  let firstSeen = 0;
  let cpuAtStart = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 20));
    peak = Math.max(peak, rssMb(pid));
    const left = await client.llen(key);
    if (left < n && firstSeen === 0) {
      // Start-up (module loading, connections) is not per-message work.
      firstSeen = performance.now();
      cpuAtStart = cpuSeconds(pid);
    }
    const processing = await client.keys(`{${key}}:processing:*`);
    const inFlight = processing.length > 0 ? await client.hlen(processing[0] as string) : 0;
    if (left === 0 && inFlight === 0) break;
    if (performance.now() - started > 120_000) break;
  }
  const seconds = (performance.now() - (firstSeen || started)) / 1000;
  const cpu = cpuSeconds(pid) - cpuAtStart;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return {
    scenario: 'worker process list-alo',
    kind: 'list-alo',
    system: 'pythia',
    messages: n,
    msgPerSec: n / seconds,
    cpuPercent: (cpu / seconds) * 100,
    cpuUsPerMsg: (cpu * 1e6) / n,
    peakRssMb: Math.round(peak),
    errors: await client.llen(`${key}:dead`),
  };
}
