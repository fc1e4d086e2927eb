import type { LoadedPipeline } from '../config/index.ts';
import { deadLetterLocation } from '../dlq/location.ts';
import { countEntries } from '../dlq/read.ts';
import type { RedisClient } from '../redis/connection.ts';
import { keys } from '../redis/keys.ts';
import { PROCESSING_LENGTH } from '../redis/scripts.ts';
import { scrubSecrets } from '../redis/redact.ts';
import { MAX_REPORTED_WORKERS, reportBase, reportKeys, type WorkerRecord } from '../runtime/worker-record.ts';

/** A consumer that holds unfinished work and has no live worker behind it. */
export interface RecoverableWork {
  consumer: string;
  /** Items in its processing list (lists) or pending entries (streams). */
  count: number;
  /** Streams: how long its entries have been idle (the consumer's idle time). */
  idle_ms?: number;
  /** When a live worker will take the work back, or why it will not yet. */
  recovery: string;
}

export interface PipelineOverview {
  name: string;
  source: { kind: 'list' | 'stream' | 'channel'; key?: string; group?: string; channels?: string[] };
  queue: { length?: number; pending?: number; lag?: number | null; processing?: number };
  dead_letter: { kind: 'list' | 'stream'; key: string; count: number };
  workers: WorkerRecord[];
  recoverable: RecoverableWork[];
  /** Every live worker's recent counts, summed per bucket (oldest first). */
  throughput: { bucket_ms: number; end: number; processed: number[]; failed: number[] } | null;
  /** closed, or the worst state a live worker reports (open > half_open). */
  breaker: string;
  /** Why the pipeline looks stuck (empty when it does not). */
  stuck: string[];
  /** Set when Redis could not be read for this pipeline. */
  error?: string;
}

/** The live workers of a pipeline: records still present (expired ones are gone, whatever the index says). */
export async function liveWorkers(client: RedisClient, pipeline: LoadedPipeline): Promise<WorkerRecord[]> {
  const base = reportBase(pipeline);
  const members = await client.zrange(reportKeys.index(base), 0, String(MAX_REPORTED_WORKERS - 1));
  const mine = members.filter((m) => m.startsWith(`${pipeline.config.name}/`));
  if (mine.length === 0) return [];
  const values = await client.mget(...mine.map((m) => reportKeys.record(base, m)));
  const records: WorkerRecord[] = [];
  for (const value of values) {
    if (value === null) continue;
    try {
      const record = JSON.parse(value) as WorkerRecord;
      if (record.v === 1 && record.pipeline === pipeline.config.name) records.push(record);
    } catch {
      // Not a record this console understands: leave it out.
    }
  }
  return records.sort((a, b) => a.host.localeCompare(b.host) || a.pid - b.pid);
}

/** Everything the overview and workers pages show for one pipeline, read from Redis alone. */
export async function pipelineOverview(client: RedisClient, pipeline: LoadedPipeline): Promise<PipelineOverview> {
  const { config } = pipeline;
  const location = deadLetterLocation(pipeline);
  const { list, stream, channel } = config.source;
  const view: PipelineOverview = {
    name: config.name,
    source: list
      ? { kind: 'list', key: list.key }
      : stream
        ? { kind: 'stream', key: stream.key, group: stream.consumer_group }
        : { kind: 'channel', channels: [...(channel?.channels ?? []), ...(channel?.patterns ?? [])] },
    queue: {},
    dead_letter: { ...location, count: 0 },
    workers: [],
    recoverable: [],
    throughput: null,
    breaker: 'closed',
    stuck: [],
  };
  try {
    view.dead_letter.count = await countEntries(client, location);
    view.workers = await liveWorkers(client, pipeline);
    view.throughput = sumHistories(view.workers);
    view.breaker = worstBreaker(view.workers);
    if (list) await readList(client, list, view);
    else if (stream) await readStream(client, stream, view);
  } catch (error) {
    view.error = scrubSecrets((error as Error).message);
  }
  judge(view);
  return view;
}

type ListConfig = NonNullable<LoadedPipeline['config']['source']['list']>;
type StreamConfig = NonNullable<LoadedPipeline['config']['source']['stream']>;

async function readList(client: RedisClient, list: ListConfig, view: PipelineOverview): Promise<void> {
  view.queue.length = await client.llen(list.key);
  const consumers = (await client.smembers(keys.consumers(list.key))).sort().slice(0, MAX_REPORTED_WORKERS);
  view.queue.processing = 0;
  if (consumers.length === 0) return;
  const pipe = client.pipeline();
  for (const consumer of consumers)
    pipe
      .eval(PROCESSING_LENGTH.lua, PROCESSING_LENGTH.numberOfKeys, keys.processing(list.key, consumer))
      .pttl(keys.heartbeat(list.key, consumer));
  const replies = (await pipe.exec()) ?? [];
  let processing = 0;
  const live = view.workers.length > 0;
  const liveNames = new Set(view.workers.map((w) => w.consumer));
  consumers.forEach((consumer, i) => {
    const count = Number(replies[2 * i]?.[1] ?? 0);
    const heartbeatMs = Number(replies[2 * i + 1]?.[1] ?? -2);
    processing += count;
    // Alive: a live worker reports this consumer. A killed one's heartbeat outlives it by up to heartbeat_ttl_ms.
    if (count === 0 || liveNames.has(consumer)) return;
    const recovery = !live
      ? 'when a worker starts (no live worker)'
      : heartbeatMs > 0
        ? `once its heartbeat expires (in ${heartbeatMs} ms), then within ${list.recovery_interval_ms} ms`
        : `within ${list.recovery_interval_ms} ms (its heartbeat expired; a live worker moves it back to the queue)`;
    view.recoverable.push({ consumer, count, recovery });
  });
  view.queue.processing = processing;
}

async function readStream(client: RedisClient, stream: StreamConfig, view: PipelineOverview): Promise<void> {
  view.queue.length = await client.xlen(stream.key);
  if (view.queue.length === 0 && (await client.exists(stream.key)) === 0) return;
  const groups = ((await client.xinfo('GROUPS', stream.key)) as unknown[][]).map(pairs);
  const group = groups.find((g) => String(g.name) === stream.consumer_group);
  if (!group) return;
  view.queue.pending = Number(group.pending);
  view.queue.lag = group.lag === null || group.lag === undefined ? null : Number(group.lag);
  const consumers = ((await client.xinfo('CONSUMERS', stream.key, stream.consumer_group)) as unknown[][])
    .map(pairs)
    .slice(0, MAX_REPORTED_WORKERS);
  const liveNames = new Set(view.workers.map((w) => w.consumer));
  const live = view.workers.length > 0;
  for (const c of consumers) {
    const name = String(c.name);
    const pending = Number(c.pending);
    if (pending === 0 || liveNames.has(name)) continue;
    const idle = Number(c.idle);
    const wait = Math.max(0, stream.claim_idle_ms - idle);
    view.recoverable.push({
      consumer: name,
      count: pending,
      idle_ms: idle,
      recovery: live
        ? `claimed by a live worker within ${wait + stream.claim_interval_ms} ms (entries idle past ${stream.claim_idle_ms} ms)`
        : 'when a worker starts (no live worker)',
    });
  }
  if (live && view.queue.pending > 0) {
    // Entries idle well past claim_idle_ms should have been claimed by now.
    const late = (await client.call(
      'XPENDING',
      stream.key,
      stream.consumer_group,
      'IDLE',
      String(stream.claim_idle_ms + 2 * stream.claim_interval_ms),
      '-',
      '+',
      '1',
    )) as unknown[];
    if (late.length > 0) view.stuck.push(`pending entries idle past claim_idle_ms (${stream.claim_idle_ms} ms) are not being claimed`);
  }
}

function judge(view: PipelineOverview): void {
  const backlog = (view.queue.length ?? 0) + (view.queue.processing ?? 0) + (view.queue.pending ?? 0);
  const waiting = view.source.kind === 'stream' ? (view.queue.lag ?? 0) + (view.queue.pending ?? 0) : backlog;
  if (view.workers.length === 0 && waiting > 0) view.stuck.push(`${waiting} messages waiting and no live worker`);
  if (view.breaker === 'open') view.stuck.push('circuit breaker open');
  if (view.error) view.stuck.push(`cannot read Redis: ${view.error}`);
}

const BREAKER_RANK: Record<string, number> = { closed: 0, half_open: 1, 'half-open': 1, open: 2 };

function worstBreaker(workers: WorkerRecord[]): string {
  return workers.reduce((worst, w) => ((BREAKER_RANK[w.breaker] ?? 0) > (BREAKER_RANK[worst] ?? 0) ? w.breaker : worst), 'closed');
}

/** Sums the workers' per-bucket counts, aligned on bucket start times (buckets are wall-clock aligned). */
export function sumHistories(workers: WorkerRecord[]): PipelineOverview['throughput'] {
  const first = workers[0]?.history;
  if (!first) return null;
  const bucket = first.bucket_ms;
  const end = Math.max(...workers.map((w) => w.history.end));
  const length = first.processed.length;
  const processed = new Array<number>(length).fill(0);
  const failed = new Array<number>(length).fill(0);
  for (const { history } of workers) {
    if (history.bucket_ms !== bucket) continue;
    const shift = (end - history.end) / bucket;
    history.processed.forEach((n, i) => {
      const at = i - shift;
      if (at >= 0 && at < length) {
        processed[at] = (processed[at] ?? 0) + n;
        failed[at] = (failed[at] ?? 0) + (history.failed[i] ?? 0);
      }
    });
  }
  return { bucket_ms: bucket, end, processed, failed };
}

function pairs(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}
