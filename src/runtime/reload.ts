import { existsSync, statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import {
  checkTogether,
  expandPipelinePaths,
  formatIssue,
  loadPipelineFile,
  type ConfigIssue,
  type LoadedPipeline,
} from '../config/index.ts';
import { checkPipelineOffThread } from '../config/check-off-thread.ts';
import { FILE_LIMITS, maxBytesFor, readBoundedText } from '../config/read-file.ts';
import type { RunningPipeline } from './pipeline.ts';
import type { Worker } from './worker.ts';

export interface ReloadOptions {
  logger: Logger;
  /** Quiet time after the last change of a file before it is reloaded (editors write in bursts). */
  debounceMs?: number;
  /** Warnings reject an edited file as errors do (`pythia run --strict`). */
  strict?: boolean;
}

/** What one reload of one file did. */
export type ReloadOutcome =
  { file: string; action: 'started' | 'restarted' | 'stopped' | 'unchanged' } | { file: string; action: 'rejected'; issues: ConfigIssue[] };

const PIPELINE_FILE = /\.ya?ml$/i;

/**
 * Hot reload for `pythia run --watch` (and SIGHUP). Watches the files and directories given to
 * `run`; a changed file is validated first:
 * - valid → its pipeline drains (graceful stop) and restarts with the new config; the others are untouched;
 * - invalid → the running pipeline keeps running, the errors are logged as FILE:LINE:COL lines;
 * - removed → its pipeline stops gracefully; a new *.yml in a watched directory starts.
 * Reloads run one at a time, in the order the changes arrived.
 */
export class PipelineReloader {
  /** Absolute file → its running pipeline and the text it was loaded from. */
  private readonly running = new Map<string, { pipeline: RunningPipeline; text: string }>();
  private readonly watchers: FSWatcher[] = [];
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly logger: Logger;
  private readonly debounceMs: number;
  private readonly strict: boolean;

  constructor(
    private readonly worker: Worker,
    private readonly paths: readonly string[],
    options: ReloadOptions,
  ) {
    this.logger = options.logger.child({ component: 'reload' });
    this.debounceMs = options.debounceMs ?? 250;
    this.strict = options.strict ?? false;
    for (const pipeline of worker.pipelines) {
      const file = path.resolve(pipeline.loaded.file);
      this.running.set(file, { pipeline, text: readText(file) ?? '' });
    }
  }

  /** Starts watching: a file given is watched through its directory (editors replace files by rename). */
  watch(): this {
    const dirs = new Map<string, ((name: string) => boolean)[]>();
    for (const given of this.paths) {
      const abs = path.resolve(given);
      const isDir = existsSync(abs) && statSync(abs).isDirectory();
      const dir = isDir ? abs : path.dirname(abs);
      const accept = isDir ? (name: string) => PIPELINE_FILE.test(name) : (name: string) => name === path.basename(abs);
      dirs.set(dir, [...(dirs.get(dir) ?? []), accept]);
    }
    for (const [dir, accepts] of dirs) {
      const watcher = watch(dir, { persistent: false }, (_event, name) => {
        if (name && accepts.some((accept) => accept(name))) this.schedule(path.join(dir, name));
      });
      watcher.on('error', (error) => this.logger.error({ dir, err: error }, 'watching stopped'));
      this.watchers.push(watcher);
    }
    this.logger.info({ dirs: [...dirs.keys()] }, 'watching pipeline files for changes');
    return this;
  }

  /** Reloads one file after the debounce period. */
  schedule(file: string): void {
    if (this.closed) return;
    clearTimeout(this.timers.get(file));
    this.timers.set(
      file,
      setTimeout(() => {
        this.timers.delete(file);
        void this.reloadFile(file);
      }, this.debounceMs),
    );
  }

  /** SIGHUP: every file given (directories re-listed) and every running one is reloaded. */
  reloadAll(): Promise<ReloadOutcome[]> {
    const { files } = expandPipelinePaths(this.paths);
    const all = new Set([...files.map((f) => path.resolve(f)), ...this.running.keys()]);
    this.logger.info({ files: all.size }, 'reloading every pipeline file');
    return Promise.all([...all].map((file) => this.reloadFile(file)));
  }

  /** Validates and applies one file's current content; serialised with every other reload. */
  reloadFile(file: string): Promise<ReloadOutcome> {
    const abs = path.resolve(file);
    const next = this.queue.then(() => this.apply(abs));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async apply(file: string): Promise<ReloadOutcome> {
    const current = this.running.get(file);
    const text = readText(file);
    if (this.closed || this.worker.draining) return { file, action: 'unchanged' };
    if (text === undefined) {
      if (!current) return { file, action: 'unchanged' };
      this.logger.info({ file, pipeline: current.pipeline.name }, 'pipeline file removed: draining its pipeline');
      await this.worker.removePipeline(current.pipeline);
      this.running.delete(file);
      this.logger.info({ file, pipeline: current.pipeline.name }, 'pipeline stopped (file removed)');
      return { file, action: 'stopped' };
    }
    if (current && current.text === text) return { file, action: 'unchanged' };

    // Checked in a worker thread first: a huge or hostile file must not stall the running pipelines.
    // Only a file that passes is loaded here (which imports its handler).
    const offThread = await checkPipelineOffThread(file);
    const result = offThread.length > 0 ? { ok: false as const, issues: offThread } : await loadPipelineFile(file, { strict: this.strict });
    for (const warning of result.ok ? result.pipeline.warnings : []) this.logger.warn({ file }, formatIssue(warning));
    let issues: ConfigIssue[] = result.ok ? [] : result.issues;
    if (result.ok) {
      // Checked together with the pipelines that keep running (unique names, one metrics port ...).
      const others = [...this.running.entries()].filter(([f]) => f !== file).map(([, r]) => r.pipeline.loaded);
      issues = checkTogether([...others, result.pipeline]).filter((issue) => path.resolve(issue.file) === file);
    }
    if (!result.ok || issues.length > 0) {
      for (const issue of issues) this.logger.error({ file }, formatIssue(issue));
      this.logger.error(
        { file, pipeline: current?.pipeline.name, issues: issues.length },
        current ? 'reload rejected: the running pipeline keeps its previous configuration' : 'new pipeline file rejected: not started',
      );
      return { file, action: 'rejected', issues };
    }
    const loaded: LoadedPipeline = result.pipeline;
    try {
      if (current) {
        this.logger.info(
          { file, pipeline: current.pipeline.name },
          'pipeline file changed: draining and restarting with the new configuration',
        );
        this.running.delete(file);
        const pipeline = await this.worker.replacePipeline(current.pipeline, loaded);
        this.running.set(file, { pipeline, text });
        this.logger.info({ file, pipeline: pipeline.name }, 'pipeline reloaded');
        return { file, action: 'restarted' };
      }
      const pipeline = await this.worker.addPipeline(loaded);
      this.running.set(file, { pipeline, text });
      this.logger.info({ file, pipeline: pipeline.name }, 'new pipeline file: pipeline started');
      return { file, action: 'started' };
    } catch (error) {
      if (this.worker.draining) return { file, action: 'stopped' };
      this.logger.error({ file, err: error }, 'starting the reloaded pipeline failed; save the file again to retry');
      return { file, action: 'rejected', issues: [{ file, line: 1, col: 1, message: (error as Error).message }] };
    }
  }

  /** Stops watching; reloads already running finish. */
  async close(): Promise<void> {
    this.closed = true;
    for (const watcher of this.watchers.splice(0)) watcher.close();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await this.queue;
  }
}

/**
 * The file's text, read with the same bounds as loading it (so a huge or endless file costs no more
 * here than there); undefined when it is gone. A file that cannot be read as a pipeline gives a text
 * that never equals a loaded one, so the load reports why.
 */
function readText(file: string): string | undefined {
  const read = readBoundedText(file, maxBytesFor('pipeline'), FILE_LIMITS.pipeline.env);
  if (read.ok) return read.text;
  if (read.message.endsWith('ENOENT') || read.message.endsWith('ENOTDIR')) return undefined;
  return `\0${read.message}`;
}
