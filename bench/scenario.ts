import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadPipelineText, type LoadedPipeline } from '../src/config/index.ts';

export type Kind = 'list-alo' | 'list-amo' | 'stream' | 'channel';
export const KINDS: Kind[] = ['list-alo', 'list-amo', 'stream', 'channel'];

export interface Result {
  scenario: string;
  kind: Kind | 'bullmq';
  /** deployed: `pythia run` in its own process; pythia: the runtime inside the bench process. */
  system: 'deployed' | 'pythia' | 'raw' | 'bullmq';
  messages: number;
  msgPerSec: number;
  p50Ms?: number;
  p95Ms?: number;
  p99Ms?: number;
  cpuPercent: number;
  cpuUsPerMsg: number;
  peakRssMb: number;
  /** Deployed: RSS once the drain is over and the worker idles. */
  idleRssMb?: number;
  /** Deployed: from spawning `pythia run` to /readyz 200. */
  readyMs?: number;
  errors: number;
}

let handlerDir: string | undefined;

/**
 * The benchmark's no-op handler. It records latency from the producer's timestamp (`t`, epoch ms
 * with sub-ms precision) into a process-wide array that the live mode reads.
 */
function noopHandlerFile(): string {
  if (!handlerDir) {
    handlerDir = mkdtempSync(path.join(tmpdir(), 'pythia-bench-'));
    writeFileSync(
      path.join(handlerDir, 'noop.mjs'),
      `const sink = (globalThis.__pythiaBenchLatencies ??= []);
export default function noop(message) {
  const t = message.body && message.body.t;
  if (t) sink.push(performance.timeOrigin + performance.now() - t);
}
`,
    );
  }
  return path.join(handlerDir, 'noop.mjs');
}

export function latencySink(): number[] {
  const g = globalThis as { __pythiaBenchLatencies?: number[] };
  g.__pythiaBenchLatencies ??= [];
  return g.__pythiaBenchLatencies;
}

export interface BenchPipelineOptions {
  concurrency?: number;
  batch?: number;
  metricsPort?: number;
  /** The handler mapping's YAML (flow style); default: the no-op module. */
  handler?: string;
}

/** The YAML of a pipeline of the given kind with the no-op handler. `metricsPort` turns the metrics server on. */
function benchPipelineYaml(kind: Kind, name: string, redisUrl: string, options: BenchPipelineOptions = {}): string {
  const batch = options.batch ?? 100;
  const source = {
    'list-alo': `list: {key: "bench:${name}", batch_size: ${batch}, delivery: at-least-once}`,
    'list-amo': `list: {key: "bench:${name}", batch_size: ${batch}, delivery: at-most-once}`,
    stream: `stream: {key: "bench:${name}", consumer_group: bench, consumer: c1, start_id: "0", batch_size: ${batch}}`,
    channel: `channel: {channels: ["bench:${name}"], buffer: 1000000}`,
  }[kind];
  const metrics = options.metricsPort === undefined ? '{enabled: false}' : `{enabled: true, host: 127.0.0.1, port: ${options.metricsPort}}`;
  return `name: ${name}\nredis: {url: "${redisUrl}"}\nsource: {${source}}\nhandler: ${options.handler ?? `{module: "${noopHandlerFile()}"}`}\nconcurrency: ${options.concurrency ?? 200}\nmetrics: ${metrics}\n`;
}

/** A pipeline of the given kind with the no-op handler, as `pythia run` would load it. */
export async function benchPipeline(kind: Kind, name: string, redisUrl: string): Promise<LoadedPipeline> {
  const result = await loadPipelineText(path.join(path.dirname(noopHandlerFile()), `${name}.yml`), benchPipelineYaml(kind, name, redisUrl));
  if (!result.ok) throw new Error(result.issues.map((i) => i.message).join('; '));
  return result.pipeline;
}

/** The same pipeline written to a file, for `pythia run` in another process. */
export function benchPipelineFile(kind: Kind, name: string, redisUrl: string, options: BenchPipelineOptions = {}): string {
  const file = path.join(path.dirname(noopHandlerFile()), `${name}.yml`);
  writeFileSync(file, benchPipelineYaml(kind, name, redisUrl, options));
  return file;
}

export const BODY_PAD = 'x'.repeat(64);
/** A ~100-byte JSON message, a typical small job payload. */
export const benchBody = (id: number, t?: number): string =>
  JSON.stringify(t === undefined ? { id, pad: BODY_PAD } : { id, t, pad: BODY_PAD });
