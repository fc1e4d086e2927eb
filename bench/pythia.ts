import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { createLogger } from '../src/runtime/logger.ts';
import { NO_OBSERVER, type PipelineObserver } from '../src/metrics/pipeline-observer.ts';
import { Worker } from '../src/runtime/worker.ts';
import { benchBody, benchPipeline, latencySink, type Kind, type Result } from './scenario.ts';
import { percentile, rssSampler } from './stats.ts';

/** Fills a list or stream with n ~100-byte messages, pipelined. */
export async function prefill(kind: Kind, client: Redis, key: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 10_000) {
    const count = Math.min(10_000, n - i);
    const bodies = Array.from({ length: count }, (_, j) => benchBody(i + j));
    if (kind === 'stream') {
      const pipe = client.pipeline();
      for (const body of bodies) pipe.xadd(key, '*', 'body', body);
      await pipe.exec();
    } else {
      await client.lpush(key, ...bodies);
    }
  }
}

function countingObserver(target: number): { observer: PipelineObserver; done: Promise<void>; count: () => number; errors: () => number } {
  let ok = 0;
  let failed = 0;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  const observer: PipelineObserver = {
    ...NO_OBSERVER,
    outcome(outcome, n = 1) {
      if (outcome === 'ok') ok += n;
      else if (outcome === 'dead_lettered') failed += n;
      else return;
      if (ok + failed >= target) resolve();
    },
  };
  return { observer, done, count: () => ok, errors: () => failed };
}

const quiet = createLogger('silent');

/** Drain: n messages waiting (published during the run for channels), through YAML → handler → ack. */
export async function pythiaDrain(kind: Kind, client: Redis, url: string, n: number, run: number): Promise<Result> {
  const name = `drain-${kind}-${run}`;
  const key = `bench:${name}`;
  if (kind !== 'channel') await prefill(kind, client, key, n);
  const counter = countingObserver(n);
  const peak = rssSampler();
  const pipeline = await benchPipeline(kind, name, url);
  // The clock starts once the pipeline is consuming: start-up (connections, handler import) is not throughput.
  const worker = await Worker.start([pipeline], { logger: quiet, observerFor: () => counter.observer });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  if (kind === 'channel') {
    for (let i = 0; i < n; i += 1000) {
      const pipe = client.pipeline();
      for (let j = i; j < Math.min(n, i + 1000); j++) pipe.publish(key, benchBody(j));
      await pipe.exec();
    }
  }
  const source = worker.pipelines[0]?.source;
  await Promise.race([counter.done, waitUntil(() => counter.count() + (source?.dropped() ?? 0) >= n, 120_000)]);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const dropped = source?.dropped() ?? 0;
  await worker.stop(1000);
  const cpuUs = cpu.user + cpu.system;
  return {
    scenario: `drain ${kind}`,
    kind,
    system: 'pythia',
    messages: counter.count(),
    msgPerSec: counter.count() / seconds,
    cpuPercent: (cpuUs / 1e6 / seconds) * 100,
    cpuUsPerMsg: cpuUs / Math.max(1, counter.count()),
    peakRssMb: peak(),
    errors: counter.errors() + dropped,
  };
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

const producerFile = (() => {
  const self = fileURLToPath(import.meta.url);
  return path.join(path.dirname(self), `live-producer${path.extname(self)}`);
})();

/** Runs the paced producer in its own process; resolves with the number of messages it sent. */
export function runProducer(url: string, kind: Kind, key: string, rate: number, seconds: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const loader = producerFile.endsWith('.ts') ? ['--import', 'tsx'] : [];
    const child = spawn(process.execPath, [...loader, producerFile, url, kind, key, String(rate), String(seconds)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`live producer exited with ${code}`))));
  });
}

/** The row of a live run: latency percentiles, CPU over the run, and what was not processed. */
export function liveResult(
  system: 'pythia' | 'raw',
  kind: Kind,
  rate: number,
  seconds: number,
  elapsed: number,
  cpu: NodeJS.CpuUsage,
  sent: number,
  processed: number,
  latencies: number[],
  peakRssMb: number,
): Result {
  const sorted = Float64Array.from(latencies).sort();
  const cpuUs = cpu.user + cpu.system;
  return {
    scenario: `live ${kind} @${rate}/s`,
    kind,
    system,
    messages: processed,
    // The producer's rate over its run; `errors` counts what was sent but not processed within 1 s after.
    msgPerSec: processed / seconds,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    cpuPercent: (cpuUs / 1e6 / elapsed) * 100,
    cpuUsPerMsg: cpuUs / Math.max(1, processed),
    peakRssMb,
    errors: sent - processed,
  };
}

/** Live: a separate producer process sends `rate` msg/s for `seconds`; latency is from its timestamp to the handler. */
export async function pythiaLive(kind: Kind, url: string, rate: number, seconds: number, run: number): Promise<Result> {
  const name = `live-${kind}-${rate}-${run}`;
  const latencies = latencySink();
  latencies.length = 0;
  const counter = countingObserver(Number.MAX_SAFE_INTEGER);
  const worker = await Worker.start([await benchPipeline(kind, name, url)], { logger: quiet, observerFor: () => counter.observer });
  const peak = rssSampler();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const sent = await runProducer(url, kind, `bench:${name}`, rate, seconds);
  await waitUntil(() => counter.count() >= sent, 1000);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await worker.stop(1000);
  return liveResult('pythia', kind, rate, seconds, elapsed, cpu, sent, counter.count(), latencies, peak());
}
