import type { LoadedPipeline } from '../config/index.ts';
import { sourceKey } from '../config/targets.ts';

/**
 * What a running worker tells Redis about itself, per pipeline: one JSON record under
 * `{<source key>}:worker:<pipeline>/<worker id>` (PX ttl_ms), listed in the sorted set
 * `{<source key>}:workers` (member `<pipeline>/<worker id>`, score = expiry time in ms).
 * Channel pipelines have no key: `pythia:<pipeline>` stands in for it. Both keys share the
 * source key's hash tag, like the other derived keys (src/redis/keys.ts), so an ACL pattern
 * `~{<key>}:*` covers them and on Redis Cluster they live in one slot.
 */
export interface WorkerRecord {
  v: 1;
  /** `<host>-<pid>-<random>`: unique per process. */
  id: string;
  pipeline: string;
  host: string;
  pid: number;
  version: string;
  started_at: string;
  reported_at: string;
  interval_ms: number;
  ttl_ms: number;
  /** Every pipeline this process runs (possibly against other Redis servers). */
  pipelines: string[];
  /** The list consumer or stream consumer name (absent for channels). */
  consumer?: string;
  state: string;
  draining: boolean;
  in_flight: number;
  /** Counts since the process started: ok outcomes, dead-lettered, retried, dropped. */
  processed: number;
  failed: number;
  retried: number;
  dropped: number;
  breaker: string;
  /** Per-bucket counts of the last minutes, oldest first; the last bucket starts at `end`. */
  history: { bucket_ms: number; end: number; processed: number[]; failed: number[] };
}

/** The key that names a pipeline's worker records: its source key, or `pythia:<name>` for channels. */
export function reportBase({ config }: LoadedPipeline): string {
  return sourceKey(config) ?? `pythia:${config.name}`;
}

export const reportKeys = {
  index: (base: string) => `{${base}}:workers`,
  record: (base: string, member: string) => `{${base}}:worker:${member}`,
  member: (pipeline: string, workerId: string) => `${pipeline}/${workerId}`,
};

/** At most this many members are read from an index (a bound on what a console loads). */
export const MAX_REPORTED_WORKERS = 1000;
