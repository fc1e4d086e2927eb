import { readFileSync } from 'node:fs';
import { loadPipelines } from '../config/index.ts';
import { InvalidBodyError, ProduceError, Producer } from '../producer/producer.ts';

export interface ProduceCliOptions {
  count: string;
  body?: string;
  file?: string;
  redisUrl?: string;
  /** Streams: MAXLEN ~ max_stream_length on every XADD (lossy: it can remove unread entries). */
  trim?: boolean;
  /** `--header name=value`, repeatable: headers sent with every message. */
  header?: string[];
}

/** `name=value` pairs into headers; the first `=` splits, so a value may contain more. */
export function parseHeaders(pairs: readonly string[]): { ok: true; headers: Record<string, string> } | { ok: false; error: string } {
  const headers: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) return { ok: false, error: `--header wants name=value, got ${JSON.stringify(pair)}` };
    headers[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return { ok: true, headers };
}

export const DEFAULT_BODY = '{"id":{{seq}},"amount":{{seq}},"produced_at":{{now}}}';

/** Messages rendered and sent per step: bounds memory for a large --count. */
const STEP = 10_000;

/** Bodies `first`..`first + count - 1` of a template: `{{seq}}` is the message number, `{{now}}` the epoch ms. */
export function renderBodies(template: string | Buffer, first: number, count: number): Buffer[] {
  if (typeof template !== 'string') return Array.from({ length: count }, () => template);
  if (!template.includes('{{')) return Array.from({ length: count }, () => Buffer.from(template));
  return Array.from({ length: count }, (_, i) =>
    Buffer.from(template.replaceAll('{{seq}}', String(first + i)).replaceAll('{{now}}', String(Date.now()))),
  );
}

/**
 * `pythia produce FILE --count N [--body JSON | --file F] [--trim] [--header NAME=VALUE]...`: sends through the Producer, so bodies are
 * checked against the pipeline's message section first, an unreachable Redis is an error after
 * redis.connection_timeout_ms, and the count printed is what Redis confirmed.
 */
export async function produceCommand(file: string, options: ProduceCliOptions): Promise<number> {
  const count = Number(options.count);
  if (!Number.isInteger(count) || count < 1) {
    process.stderr.write(`pythia produce: --count must be a positive integer, got ${options.count}\n`);
    return 2;
  }
  if (options.body !== undefined && options.file !== undefined) {
    process.stderr.write('pythia produce: use --body or --file, not both\n');
    return 2;
  }
  const parsed = parseHeaders(options.header ?? []);
  if (!parsed.ok) {
    process.stderr.write(`pythia produce: ${parsed.error}\n`);
    return 2;
  }
  const headers = Object.keys(parsed.headers).length > 0 ? parsed.headers : undefined;
  const [pipeline] = await loadPipelines([file], { importModules: false });
  if (!pipeline) return 1;
  const template = options.file !== undefined ? readFileSync(options.file) : (options.body ?? DEFAULT_BODY);
  let producer: Producer;
  try {
    producer = Producer.forPipeline(pipeline, { redisUrl: options.redisUrl, trim: options.trim === true });
  } catch (error) {
    process.stderr.write(`pythia produce: ${(error as Error).message}\n`);
    return 1;
  }
  const started = performance.now();
  let sent = 0;
  let receivers = 0;
  try {
    for (let first = 1; first <= count; first += STEP) {
      const bodies = renderBodies(template, first, Math.min(STEP, count - first + 1));
      const results = await producer.sendMany(bodies.map((body) => ({ body, headers })));
      sent += results.length;
      for (const result of results) receivers += result.receivers ?? 0;
    }
  } catch (error) {
    if (!(error instanceof InvalidBodyError || error instanceof ProduceError)) throw error;
    const confirmed = sent + (error instanceof ProduceError ? error.sent : 0);
    process.stderr.write(`pythia produce: ${error.message}\n`);
    process.stderr.write(`sent ${confirmed} of ${count} messages to ${pipeline.config.name} (confirmed by Redis)\n`);
    return 1;
  } finally {
    await producer.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const heard = pipeline.config.source.channel ? `, ${receivers} deliveries to subscribers` : '';
  process.stdout.write(
    `sent ${sent} messages to ${pipeline.config.name} in ${seconds.toFixed(2)} s (${Math.round(sent / seconds)} msg/s${heard})\n`,
  );
  return 0;
}
