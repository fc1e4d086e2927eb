import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { DeadLetterReason } from '../outputs/dead-letter.ts';
import type { RedisClient } from '../redis/connection.ts';
import type { BreakerState } from '../resilience/circuit-breaker.ts';
import type { Outcome, PipelineObserver } from '../metrics/pipeline-observer.ts';
import type { RunningPipeline } from './pipeline.ts';
import { MAX_REPORTED_WORKERS, reportBase, reportKeys, type WorkerRecord } from './worker-record.ts';

const BUCKET_MS = 10_000;
const BUCKETS = 30;

/**
 * KEYS[1] record, KEYS[2] index | ARGV[1] JSON, ARGV[2] ttl ms, ARGV[3] member, ARGV[4] expiry (ms),
 * ARGV[5] now (ms), ARGV[6] max members. One round trip: write the record, list it, forget members
 * that expired (so the index never outgrows the live workers) and let the index itself expire with
 * the last of them.
 */
const REPORT_LUA = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[6])
if extra > 0 then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, extra - 1) end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1`;

/** Counts one pipeline's outcomes for the report, then passes every call on. */
class CountingObserver implements PipelineObserver {
  processed = 0;
  failed = 0;
  retried = 0;
  dropped = 0;
  /** Bucket start (ms) -> [processed, failed] in that bucket. */
  readonly buckets = new Map<number, [number, number]>();
  inner: PipelineObserver | undefined;

  /** The current bucket and when it ends: most calls only compare the time. */
  private currentCounts: [number, number] | undefined;
  private currentEnd = 0;

  private bucket(): [number, number] {
    const now = Date.now();
    if (this.currentCounts && now < this.currentEnd) return this.currentCounts;
    const start = Math.floor(now / BUCKET_MS) * BUCKET_MS;
    this.currentEnd = start + BUCKET_MS;
    let counts = this.buckets.get(start);
    this.currentCounts = counts;
    if (!counts) {
      counts = this.currentCounts = [0, 0];
      this.buckets.set(start, counts);
      for (const old of this.buckets.keys()) if (old <= start - BUCKETS * BUCKET_MS) this.buckets.delete(old);
    }
    return counts;
  }

  outcome(outcome: Outcome, count = 1): void {
    if (outcome === 'ok') {
      this.processed += count;
      this.bucket()[0] += count;
    } else if (outcome === 'dead_lettered') {
      this.failed += count;
      this.bucket()[1] += count;
    } else if (outcome === 'dropped') this.dropped += count;
    this.inner?.outcome(outcome, count);
  }
  duration(seconds: number): void {
    this.inner?.duration(seconds);
  }
  inFlight(count: number): void {
    this.inner?.inFlight(count);
  }
  retry(): void {
    this.retried++;
    this.inner?.retry();
  }
  deadLetter(reason: DeadLetterReason): void {
    this.inner?.deadLetter(reason);
  }
  breaker(state: BreakerState): void {
    this.inner?.breaker(state);
  }

  history(): WorkerRecord['history'] {
    const end = Math.floor(Date.now() / BUCKET_MS) * BUCKET_MS;
    const processed: number[] = [];
    const failed: number[] = [];
    for (let i = BUCKETS - 1; i >= 0; i--) {
      const counts = this.buckets.get(end - i * BUCKET_MS);
      processed.push(counts?.[0] ?? 0);
      failed.push(counts?.[1] ?? 0);
    }
    return { bucket_ms: BUCKET_MS, end, processed, failed };
  }
}

export interface ReporterOptions {
  logger: Logger;
  /** Default PYTHIA_WORKER_REPORT_INTERVAL_MS, else 5000. Records live three intervals. */
  intervalMs?: number;
}

/**
 * Writes this process's worker record for each of its pipelines every interval (see worker-record.ts),
 * through the pipeline's own connection pool. A record disappears three intervals after the process
 * stops writing it (killed, or stopped). A failing write (Redis down, an ACL without the report
 * commands) is logged once and never affects the pipeline.
 */
export class WorkerReporter {
  readonly id = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  readonly intervalMs: number;
  private readonly startedAt = new Date().toISOString();
  private readonly counters = new Map<string, CountingObserver>();
  private timer: NodeJS.Timeout | undefined;
  private draining = false;
  private failing = new Set<string>();
  private readonly retired = new WeakSet<RunningPipeline>();

  constructor(
    private readonly pipelines: () => readonly RunningPipeline[],
    private readonly options: ReporterOptions,
  ) {
    const fromEnv = Number(process.env.PYTHIA_WORKER_REPORT_INTERVAL_MS);
    this.intervalMs = options.intervalMs ?? (Number.isFinite(fromEnv) && fromEnv >= 100 ? fromEnv : 5000);
  }

  /** The observer a pipeline reports to: counts for the record, then `inner` (metrics). Reused across reloads. */
  observe(pipeline: string, inner: PipelineObserver | undefined): PipelineObserver {
    let counter = this.counters.get(pipeline);
    if (!counter) this.counters.set(pipeline, (counter = new CountingObserver()));
    counter.inner = inner;
    return counter;
  }

  start(): void {
    if (this.timer) return;
    void this.reportAll();
    this.timer = setInterval(() => void this.reportAll(), this.intervalMs);
    this.timer.unref();
  }

  /** The process is stopping: one last record says so; later ones too, while the pools are open. */
  markDraining(): void {
    this.draining = true;
    void this.reportAll();
  }

  /** A pipeline finished draining: its record goes now rather than at the end of its TTL. */
  readonly retire = async (pipeline: RunningPipeline): Promise<void> => {
    const client = pipeline.pool.primary as RedisClient;
    if (client.status !== 'ready') return;
    const base = reportBase(pipeline.loaded);
    const member = reportKeys.member(pipeline.name, this.id);
    this.retired.add(pipeline);
    await client.pipeline().del(reportKeys.record(base, member)).zrem(reportKeys.index(base), member).exec();
  };

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async reportAll(): Promise<void> {
    const running = this.pipelines().filter((p) => p.state === 'consuming' || p.state === 'draining');
    const names = this.pipelines().map((p) => p.name);
    await Promise.all(running.map((p) => this.report(p, names)));
  }

  private async report(pipeline: RunningPipeline, names: string[]): Promise<void> {
    const client = pipeline.pool.primary as RedisClient;
    if (client.status !== 'ready' || this.retired.has(pipeline)) return;
    const record = this.record(pipeline, names);
    const base = reportBase(pipeline.loaded);
    const member = reportKeys.member(pipeline.name, this.id);
    const now = Date.now();
    try {
      await client.eval(
        REPORT_LUA,
        2,
        reportKeys.record(base, member),
        reportKeys.index(base),
        JSON.stringify(record),
        String(record.ttl_ms),
        member,
        String(now + record.ttl_ms),
        String(now),
        String(MAX_REPORTED_WORKERS),
      );
      if (this.failing.delete(pipeline.name)) this.options.logger.info({ pipeline: pipeline.name }, 'worker report written again');
    } catch (error) {
      if (this.failing.has(pipeline.name) || pipeline.state !== 'consuming') return;
      this.failing.add(pipeline.name);
      this.options.logger.warn(
        { pipeline: pipeline.name, err: (error as Error).message },
        'writing the worker report failed (the console will not list this worker); the pipeline is unaffected',
      );
    }
  }

  private record(pipeline: RunningPipeline, names: string[]): WorkerRecord {
    const counter = this.counters.get(pipeline.name) ?? new CountingObserver();
    const consumer = (pipeline.source as { consumer?: unknown }).consumer;
    return {
      v: 1,
      id: this.id,
      pipeline: pipeline.name,
      host: hostname(),
      pid: process.pid,
      version: VERSION,
      started_at: this.startedAt,
      reported_at: new Date().toISOString(),
      interval_ms: this.intervalMs,
      ttl_ms: this.intervalMs * 3,
      pipelines: names,
      ...(typeof consumer === 'string' ? { consumer } : {}),
      state: pipeline.state,
      draining: this.draining || pipeline.state === 'draining',
      in_flight: pipeline.inFlight,
      processed: counter.processed,
      failed: counter.failed,
      retried: counter.retried,
      dropped: counter.dropped,
      breaker: pipeline.breakerState,
      history: counter.history(),
    };
  }
}

const VERSION = ((): string => {
  try {
    return String(
      (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version ?? 'unknown',
    );
  } catch {
    return 'unknown';
  }
})();
