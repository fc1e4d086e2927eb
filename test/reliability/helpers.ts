import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { pipelineYaml, spawnWorker as spawnChild } from '../helpers/pipelines.ts';

export { PipelineDir, exited } from '../helpers/pipelines.ts';

const children = new Set<ReturnType<typeof spawnChild>>();

/** `pythia run` as a child process (see test/helpers/pipelines.ts), remembered so a failed test cannot leave it running. */
export function spawnWorker(...args: Parameters<typeof spawnChild>): ReturnType<typeof spawnChild> {
  const child = spawnChild(...args);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** kill -9 every worker still running (call from after()). */
export function reapWorkers(): void {
  for (const child of children) child.kill('SIGKILL');
}
export { startRedis, type RedisServer } from '../helpers/redis-server.ts';

/** A pipeline YAML using the reliable.mjs handler, writing {id} to `<name>:out`. */
export function reliablePipeline(name: string, source: string, extra = ''): string {
  return pipelineYaml(name, { source, handler: '{module: "{{support}}/handlers/reliable.mjs"}', output: `{list: "${name}:out"}` }, extra);
}

/** Pushes bodies to a list (LPUSH, the producer side of the queue) or XADDs them to a stream. */
export async function produce(client: Redis, kind: 'list' | 'stream', key: string, bodies: string[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 2000) {
    const chunk = bodies.slice(i, i + 2000);
    if (kind === 'list') await client.lpush(key, ...chunk);
    else {
      const pipe = client.pipeline();
      for (const body of chunk) pipe.xadd(key, '*', 'body', body);
      await pipe.exec();
    }
  }
}

export const bodies = (from: number, count: number, extra: Record<string, unknown> = {}): string[] =>
  Array.from({ length: count }, (_, i) => JSON.stringify({ id: from + i, ...extra }));

/** Ids recorded in an output list: the distinct ones and how many repeats. */
export async function tally(client: Redis, key: string): Promise<{ unique: Set<number>; duplicates: number; total: number }> {
  const ids = (await client.lrange(key, 0, -1)).map((r) => (JSON.parse(r) as { id: number }).id);
  const unique = new Set(ids);
  return { unique, duplicates: ids.length - unique.size, total: ids.length };
}

export async function outCount(client: Redis, key: string): Promise<number> {
  return client.llen(key);
}

/** Worker RSS in MiB from /proc/<pid>/status (VmRSS), or 0 when the process is gone. */
export function rssMiB(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples a process' RSS every intervalMs; stop() returns the maximum in MiB. */
export function sampleRss(pid: () => number | undefined, intervalMs = 200): { stop: () => number; max: () => number } {
  let max = 0;
  const timer = setInterval(() => (max = Math.max(max, rssMiB(pid()))), intervalMs);
  return {
    max: () => max,
    stop: () => {
      clearInterval(timer);
      return Math.max(max, rssMiB(pid()));
    },
  };
}

/** One row of docs/reliability.md, printed so a run's numbers can be copied. */
export function report(row: {
  scenario: string;
  messages: number;
  lost: number;
  duplicates: number;
  recovery?: string;
  maxRss?: number;
}): void {
  const rss = row.maxRss === undefined ? '—' : `${row.maxRss.toFixed(0)} MiB`;
  console.log(`RELIABILITY | ${row.scenario} | ${row.messages} | ${row.lost} | ${row.duplicates} | ${row.recovery ?? '—'} | ${rss} |`);
}
