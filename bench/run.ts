import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startRedis } from '../src/testing/redis-server.ts';
import { bullmqDrain } from './bullmq.ts';
import { pythiaDrain, pythiaLive } from './pythia.ts';
import { workerProcessDrain } from './worker-process.ts';
import { rawDrain, rawLive } from './raw.ts';
import { KINDS, type Kind, type Result } from './scenario.ts';
import { median } from './stats.ts';

export interface BenchOptions {
  n: number;
  runs: number;
  liveSeconds: number;
  rates: number[];
  bullmqN: number;
  bullmqConcurrency: number[];
  kinds: Kind[];
  /** Also drain N messages of each kind with `pythia run` in its own process (as deployed): the headline rows. */
  workerRss?: boolean;
  out?: string;
  log: (line: string) => void;
}

export interface BenchReport {
  startedAt: string;
  node: string;
  redis: string;
  options: Omit<BenchOptions, 'log'>;
  runs: Result[][];
  table: string;
}

/** Runs every scenario `runs` times on one private redis-server, and tabulates medians and ratios. */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const server = await startRedis();
  const client = server.client();
  const redisVersion = String((await client.info('server')).match(/redis_version:(\S+)/)?.[1]);
  const runs: Result[][] = [];
  try {
    for (let run = 1; run <= options.runs; run++) {
      const results: Result[] = [];
      const record = (result: Result | undefined) => {
        if (!result) return;
        results.push(result);
        options.log(
          `run ${run}/${options.runs}  ${result.system.padEnd(6)} ${result.scenario.padEnd(26)} ${fmt(result.msgPerSec, 0).padStart(9)} msg/s${result.p99Ms !== undefined ? `  p99 ${fmt(result.p99Ms, 2)} ms` : ''}`,
        );
      };
      // Live rates first, while this process's heap is small: the drains leave garbage whose
      // collection would add pauses to the latency figures.
      for (const rate of options.rates) {
        record(await rawLive(server.url, rate, options.liveSeconds, run));
        record(await pythiaLive('list-alo', server.url, rate, options.liveSeconds, run));
      }
      // Each kind's raw loop right before Pythia's runs of it, so a ratio compares neighbours in time.
      for (const kind of options.kinds) {
        record(await rawDrain(kind, server.url, options.n, run));
        // The worker process: 2N timed, after 2N untimed (a fresh process warms its JIT up: see worker-process.ts).
        if (options.workerRss) record(await workerProcessDrain(kind, client, server.url, options.n * 2, run));
        record(await pythiaDrain(kind, client, server.url, options.n, run));
      }
      for (const concurrency of options.bullmqConcurrency) record(await bullmqDrain(server.url, options.bullmqN, concurrency, run));
      await client.flushall();
      runs.push(results);
    }
  } finally {
    await server.stop();
  }
  const table = tabulate(runs);
  const report: BenchReport = {
    startedAt: new Date().toISOString(),
    node: process.version,
    redis: redisVersion,
    options: { ...options, log: undefined } as Omit<BenchOptions, 'log'>,
    runs,
    table,
  };
  const out = options.out ?? path.join('.bench', `results-${Date.now()}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2));
  options.log(`results written to ${out}`);
  return report;
}

function fmt(value: number | undefined, digits: number): string {
  if (value === undefined || !Number.isFinite(value)) return '-';
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/**
 * The results table (as in docs/performance.md), one row per scenario, deployed rows first: medians across
 * runs; Pythia against the raw loop as the median of same-run ratios, and against BullMQ's best median.
 */
export function tabulate(runs: Result[][]): string {
  // Deployed first (`pythia run` in its own process: what a user runs), then in-process, raw, BullMQ.
  const order = ['deployed', 'pythia', 'raw', 'bullmq'];
  const keys = [...new Set(runs.flat().map((r) => `${r.system}|${r.scenario}`))].sort(
    (a, b) => order.indexOf(a.split('|')[0] as string) - order.indexOf(b.split('|')[0] as string),
  );
  const med = (key: string, pick: (r: Result) => number | undefined) =>
    median(
      runs
        .flat()
        .filter((r) => `${r.system}|${r.scenario}` === key)
        .map((r) => pick(r) ?? NaN),
    );
  const bullRates = keys.filter((k) => k.startsWith('bullmq|')).map((k) => med(k, (r) => r.msgPerSec));
  const bullBest = bullRates.length > 0 ? Math.max(...bullRates) : NaN;
  // A ratio is taken within each run (this machine's load changes between runs), then its median.
  const sameRunRatio = (key: string, scenario: string): number =>
    median(
      runs.map((results) => {
        const mine = results.find((r) => `${r.system}|${r.scenario}` === key);
        const raw = results.find((r) => r.system === 'raw' && r.scenario === scenario);
        return mine && raw ? mine.msgPerSec / raw.msgPerSec : NaN;
      }),
    );
  const header =
    '| system | scenario | msg/s | P50 ms | P95 ms | P99 ms | CPU % | µs/msg | peak RSS MB | idle RSS MB | ready ms | errors | vs raw | vs BullMQ best |';
  const lines = [header, '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|'];
  for (const key of keys) {
    const [system, scenario] = key.split('|') as [string, string];
    const rate = med(key, (r) => r.msgPerSec);
    const pythia = system === 'pythia' || system === 'deployed';
    const ratio = pythia ? sameRunRatio(key, scenario) : NaN;
    const vsRaw = Number.isFinite(ratio) ? `${fmt(ratio * 100, 0)}%` : '-';
    const vsBull = pythia && Number.isFinite(bullBest) && scenario.startsWith('drain') ? `${fmt(rate / bullBest, 1)}×` : '-';
    lines.push(
      `| ${system} | ${scenario} | ${fmt(rate, 0)} | ${fmt(
        med(key, (r) => r.p50Ms),
        2,
      )} | ${fmt(
        med(key, (r) => r.p95Ms),
        2,
      )} | ${fmt(
        med(key, (r) => r.p99Ms),
        2,
      )} | ${fmt(
        med(key, (r) => r.cpuPercent),
        0,
      )} | ${fmt(
        med(key, (r) => r.cpuUsPerMsg),
        2,
      )} | ${fmt(
        med(key, (r) => r.peakRssMb),
        0,
      )} | ${fmt(
        med(key, (r) => r.idleRssMb),
        0,
      )} | ${fmt(
        med(key, (r) => r.readyMs),
        0,
      )} | ${fmt(
        med(key, (r) => r.errors),
        0,
      )} | ${vsRaw} | ${vsBull} |`,
    );
  }
  return lines.join('\n');
}

export { KINDS };
