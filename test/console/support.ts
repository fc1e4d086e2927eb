import type { Redis } from 'ioredis';
import type { LoadedPipeline } from '../../src/config/index.ts';
import { PipelineClients } from '../../src/console/clients.ts';
import { ConsoleServer } from '../../src/console/server.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import type { PipelineDir } from '../helpers/pipelines.ts';
import { waitFor } from '../helpers/wait.ts';

export const PASSWORD = 'Console-S3cret-pw';
export const XSS = '<script>window.__pwned = true</script><img src=x onerror="window.__pwned = true">';
export const BINARY = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41, 0x0a, 0xc3, 0x28]);

/** A list pipeline whose handler fails permanently on request, with a short report interval. */
export function ordersYaml(name = 'orders'): string {
  return `
name: ${name}
redis: {url: "\${REDIS_URL}"}
source: {list: {key: "q:${name}", block_timeout_ms: 200}}
handler: {module: "{{support}}/handlers/permanent.mjs"}
resilience: {max_retries: 0, circuit_breaker: {enabled: false}}
output: {list: "${name}:out"}
metrics: {enabled: false}
`;
}

export function eventsYaml(name = 'events'): string {
  return `
name: ${name}
redis: {url: "\${REDIS_URL}"}
source: {stream: {key: "s:${name}", consumer_group: g, start_id: "0", block_timeout_ms: 200}}
handler: {module: "{{support}}/handlers/permanent.mjs"}
resilience: {max_retries: 0, circuit_breaker: {enabled: false}}
dead_letter: {stream: {key: "s:${name}:dead"}}
metrics: {enabled: false}
`;
}

/**
 * Real dead letters of mixed reasons, written by a real worker: `permanent` entries that fail with
 * PermanentError (one of them carrying an XSS payload), `invalid` bodies that are not JSON (some binary).
 */
export async function seedDeadLetters(
  client: Redis,
  pipeline: LoadedPipeline,
  counts: { permanent: number; invalid: number; ok?: number },
): Promise<void> {
  process.env.PYTHIA_WORKER_REPORT_INTERVAL_MS ??= '300';
  const worker = await Worker.start([pipeline], { logger: createLogger('silent'), report: true });
  try {
    const bodies: (string | Buffer)[] = [];
    for (let i = 0; i < counts.permanent; i++)
      bodies.push(JSON.stringify({ id: i, permanent: 'class', ...(i === 0 ? { note: XSS } : {}) }));
    for (let i = 0; i < counts.invalid; i++) bodies.push(i % 2 === 0 ? BINARY : `not json ${i}`);
    for (let i = 0; i < (counts.ok ?? 0); i++) bodies.push(JSON.stringify({ id: 1000 + i }));
    const source = pipeline.config.source;
    if (source.list) await client.lpush(source.list.key, ...bodies);
    else if (source.stream) for (const body of bodies) await client.xadd(source.stream.key, '*', 'body', body);
    const dead = pipeline.config.dead_letter.stream?.key ?? pipeline.config.dead_letter.list ?? `${source.list?.key}:dead`;
    const expected = counts.permanent + counts.invalid;
    const count = () => (pipeline.config.dead_letter.stream ? client.xlen(dead) : client.llen(dead));
    await waitFor(`${expected} dead letters in ${dead}`, count, { until: (n) => n >= expected });
  } finally {
    await worker.stop();
  }
}

export async function startConsole(
  pipelines: LoadedPipeline[],
  options: { host?: string; token?: string } = {},
): Promise<{ server: ConsoleServer; clients: PipelineClients; close: () => Promise<void> }> {
  const clients = new PipelineClients();
  const server = await new ConsoleServer({ host: options.host ?? '127.0.0.1', port: 0, token: options.token, pipelines, clients }).listen();
  return { server, clients, close: async () => (await server.close(), await clients.close()) };
}

export async function load(dir: PipelineDir, name: string, yaml: string): Promise<LoadedPipeline> {
  return dir.load(name, yaml);
}
