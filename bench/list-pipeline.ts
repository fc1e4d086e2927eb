// What the handler benchmarks (batch-handlers.ts, command-handlers.ts) share: a pipeline on one list,
// started in-process, fed in LPUSHes of 1000, and the line that reports a run.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { loadPipelineText } from '../src/config/index.ts';
import { Worker } from '../src/runtime/worker.ts';

export interface ListPipeline {
  /** The list key, also the pipeline's name. */
  key: string;
  /** The YAML after `handler:`: a flow value, or indented lines (which go under the key). */
  handler: string;
  concurrency: number;
  /** Where the pipeline file is written. */
  dir: string;
  redisUrl: string;
  logger: Logger;
}

/**
 * Writes and loads a pipeline on the list `key` (fetches of 100, a 30 s processing timeout, no circuit
 * breaker, no metrics) and starts a worker on it; resolves 300 ms later, when its first fetch is blocking
 * (and command handlers' children have started).
 */
export async function startListWorker(pipeline: ListPipeline): Promise<Worker> {
  const { key, handler } = pipeline;
  const yaml = `version: 1
name: ${key}
source:
  list: {key: ${key}, batch_size: 100, block_timeout_ms: 100}
handler:${/^\s/.test(handler) ? '\n' : ' '}${handler}
concurrency: ${pipeline.concurrency}
resilience: {processing_timeout_ms: 30000, circuit_breaker: {enabled: false}}
metrics: {enabled: false}
`;
  const file = path.join(pipeline.dir, `${key}.yml`);
  writeFileSync(file, yaml);
  const loaded = await loadPipelineText(file, yaml);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  const worker = await Worker.start([loaded.pipeline], { redisUrl: pipeline.redisUrl, logger: pipeline.logger });
  await new Promise((r) => setTimeout(r, 300));
  return worker;
}

/** LPUSHes `count` copies of one small JSON body onto `key`, 1000 per call. */
export async function pushBodies(redis: Redis, key: string, count: number): Promise<void> {
  const body = JSON.stringify({ order: 1, items: ['a', 'b'], note: 'benchmark' });
  for (let sent = 0; sent < count; sent += 1000)
    await redis.lpush(key, ...Array.from({ length: Math.min(1000, count - sent) }, () => body));
}

/** Prints one run's line (the label padded to `width`) and returns its rate in messages per second. */
export function reportRun(label: string, width: number, count: number, seconds: number, dead: number): number {
  const rate = count / seconds;
  console.log(
    `${label.padEnd(width)} ${String(count).padStart(6)} msgs  ${seconds.toFixed(2).padStart(6)} s  ${rate.toFixed(0).padStart(7)} msg/s${dead ? `  (${dead} dead-lettered!)` : ''}`,
  );
  return rate;
}
