import type { Logger } from 'pino';
import { StderrLog, STDERR_MAX_LINE_CHARS } from './stderr-log.ts';
import {
  CommandError,
  KILL_GRACE_MS,
  killGroup,
  processExit,
  readLines,
  releasePipes,
  requestFor,
  type CommandSpec,
} from './child-process.ts';
import { type Child, type Request, sendLine, startChild } from './persistent-child.ts';
import { excerpt, parseReply, replyKey, settleFromReply, shouldLog } from './persistent-reply.ts';
import { batchLine, settleBatchReply } from './persistent-batch.ts';
import { abortHookOf, type AbortHook, type HandlerRunner } from './runner.ts';
import type { HandlerContext, Message } from './types.ts';

/**
 * handler.mode: persistent. `instances` long-lived processes; each request is one JSON line on a
 * child's stdin, each reply one JSON line on its stdout, matched by `id`; many requests are in
 * flight per child. See docs/command-handlers.md for the protocol.
 */

export interface PersistentOptions {
  instances: number;
  /**
   * A child that has written no reply at all for this long after one of its requests timed out, while
   * it still owes replies, is stuck: it is killed and restarted.
   */
  stuckAfterMs: number;
  /** First restart delay after a child dies; doubles per consecutive early death. */
  restartDelayMs?: number;
  restartMaxDelayMs?: number;
  /** A child that lived this long, or answered a request, before dying restarts after the first delay again. */
  healthyAfterMs?: number;
  /** How long close() waits for children to exit after their stdin is closed, before signalling them. */
  closeGraceMs?: number;
}

/** Protocol problems, counted (and logged, rate-limited); none of them stops the worker. */
export interface PersistentStats {
  /** Lines on stdout that are not JSON, or JSON that is not a reply object with a string id. */
  invalidLines: number;
  /** Replies whose id matches no request in flight on that child. */
  unknownIds: number;
  /** Replies with a known id but neither "ok": true nor "ok": false (the request fails, retryable). */
  malformedReplies: number;
  /** Replies that arrived after their request had timed out (discarded). */
  lateReplies: number;
  /** Children started after the first ones (after a crash, or a stuck child was killed). */
  restarts: number;
  /** Children killed because they were stuck. */
  stuckKills: number;
}

export class PersistentRunner implements HandlerRunner {
  readonly stats: PersistentStats = { invalidLines: 0, unknownIds: 0, malformedReplies: 0, lateReplies: 0, restarts: 0, stuckKills: 0 };
  private readonly children: (Child | undefined)[];
  /** Consecutive early deaths per slot, for the restart backoff. */
  private readonly failures: number[];
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  /** Requests waiting for a child (every child is down, waiting for its restart). */
  private readonly waiting: Request[] = [];
  private cursor = 0;
  private lastBatchId = 0;
  private closing = false;
  private readonly restartDelayMs: number;
  private readonly restartMaxDelayMs: number;
  private readonly healthyAfterMs: number;
  private readonly closeGraceMs: number;

  constructor(
    private readonly spec: CommandSpec,
    private readonly options: PersistentOptions,
    private readonly logger: Logger,
  ) {
    this.children = new Array<Child | undefined>(options.instances).fill(undefined);
    this.failures = new Array<number>(options.instances).fill(0);
    this.restartDelayMs = options.restartDelayMs ?? 100;
    this.restartMaxDelayMs = options.restartMaxDelayMs ?? 5000;
    this.healthyAfterMs = options.healthyAfterMs ?? 10_000;
    this.closeGraceMs = options.closeGraceMs ?? 5000;
  }

  /** The pids of the running children (for tests and diagnostics). */
  get pids(): number[] {
    return this.children.flatMap((c) => (c?.alive && c.pid !== undefined ? [c.pid] : []));
  }

  /** Requests sent and not yet answered, per child slot. */
  get load(): number[] {
    return this.children.map((c) => (c?.alive ? c.pending.size + c.abandoned.size : 0));
  }

  start(): void {
    for (let slot = 0; slot < this.children.length; slot++) this.spawn(slot);
  }

  private spawn(slot: number): void {
    const { spec } = this;
    const child = startChild(spec, slot);
    const subprocess = child.process;
    this.children[slot] = child;
    const log = this.logger.child({ handlerPid: child.pid, instance: slot });
    subprocess.stdin?.on('error', () => {}); // EPIPE when it dies: its exit is handled below
    readLines(
      subprocess.stdout,
      (line) => this.onLine(child, line, log),
      undefined,
      (chars) => {
        this.stats.invalidLines++;
        log.warn({ chars }, 'handler wrote an over-long line on stdout; discarded');
      },
    );
    const stderrLog = new StderrLog(() => log.child({ stream: 'stderr' }));
    readLines(
      subprocess.stderr,
      (line) => {
        child.tail.push(line);
        stderrLog.line(line);
      },
      STDERR_MAX_LINE_CHARS,
      () => stderrLog.drop(),
    );
    subprocess.stderr?.once('close', () => stderrLog.end());
    // The leader gone, whatever it left in its group goes too (and stops holding the pipes open).
    subprocess.once('exit', () => killGroup(child.pid, 'SIGKILL'));
    // Its exit decides, not its pipes: a helper in another session may hold them open (see processExit).
    void processExit(subprocess).then(() => releasePipes([subprocess.stdout, subprocess.stderr]));
    child.exited = subprocess.then((result) =>
      this.onExit(
        child,
        result.exitCode,
        result.signal,
        result.failed && result.exitCode === undefined && result.signal === undefined
          ? result.originalMessage || result.shortMessage
          : undefined,
        log,
      ),
    );
    if (child.pid !== undefined) log.info({ command: [spec.file, ...spec.args] }, 'handler process started');
    this.drainWaiting();
  }

  private onExit(
    child: Child,
    exitCode: number | undefined,
    signal: string | undefined,
    startError: string | undefined,
    log: Logger,
  ): void {
    child.alive = false;
    const inFlight = child.pending.size;
    const how =
      startError !== undefined
        ? `could not be started: ${startError}`
        : signal !== undefined
          ? `was killed by ${signal}`
          : `exited with code ${exitCode}`;
    const stderr = child.tail.text();
    const error = new CommandError(
      `handler process ${child.pid ?? '(not started)'} ${how} with ${inFlight} request(s) in flight${stderr ? `; stderr: ${stderr}` : ''}`,
      { exitCode, signal },
    );
    for (const request of child.pending.values()) this.settle(request).reject(error);
    child.pending.clear();
    child.abandoned.clear();
    if (this.children[child.slot] === child) this.children[child.slot] = undefined;
    if (this.closing) {
      log.info({ exitCode, signal }, 'handler process exited');
      return;
    }
    // A child that served requests (or lived a while) died of something else than starting up: restart it
    // quickly. One that dies again and again before answering anything backs off exponentially.
    const healthy = child.lastReplyAt > 0 || (!child.stuck && Date.now() - child.startedAt >= this.healthyAfterMs);
    const failures = healthy ? 1 : (this.failures[child.slot] ?? 0) + 1;
    this.failures[child.slot] = failures;
    const delay = Math.min(this.restartDelayMs * 2 ** (failures - 1), this.restartMaxDelayMs);
    log.warn({ exitCode, signal, inFlight, restartInMs: delay, err: startError }, `handler process ${how}; restarting`);
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.closing) return;
      this.stats.restarts++;
      this.spawn(child.slot);
    }, delay);
    this.restartTimers.add(timer);
  }

  invoke(message: Message, context: HandlerContext): Promise<unknown> {
    return this.request(message.id, () => JSON.stringify(requestFor(message, context)) + '\n', abortHookOf(context), undefined);
  }

  /** handler.batch: one `{"id","batch":[...]}` line for the whole batch, answered by one `{"id","results":[...]}` line. */
  invokeBatch(messages: Message[], context: HandlerContext): Promise<unknown> {
    const id = `batch-${++this.lastBatchId}`;
    return this.request(id, () => batchLine(id, messages, context), abortHookOf(context), messages.length);
  }

  private request(id: string, line: () => string, abort: AbortHook, batchSize: number | undefined): Promise<unknown> {
    if (this.closing) return Promise.reject(new CommandError('the command handler is closed'));
    return new Promise((resolve, reject) => {
      const request: Request = { id, line: '', abort, resolve, reject, child: undefined, batchSize };
      const aborted = abort.listenForAbort((reason) => this.abort(request, reason));
      if (aborted) return reject(aborted.reason);
      request.line = line();
      const child = this.pick(request.id);
      if (child) this.send(child, request);
      else this.waiting.push(request);
    });
  }

  /** The least-loaded live child that has no request with this id in flight; ties rotate. */
  private pick(id: string): Child | undefined {
    let best: Child | undefined;
    let bestLoad = Infinity;
    const n = this.children.length;
    for (let i = 0; i < n; i++) {
      const child = this.children[(this.cursor + i) % n];
      if (!child?.alive || child.pending.has(id)) continue;
      const load = child.pending.size + child.abandoned.size;
      if (load < bestLoad) {
        best = child;
        bestLoad = load;
        if (load === 0) break;
      }
    }
    this.cursor = (this.cursor + 1) % n;
    return best;
  }

  private send(child: Child, request: Request): void {
    request.child = child;
    child.pending.set(request.id, request);
    child.abandoned.delete(request.id); // a retry of a timed-out request: whichever reply comes first answers it
    sendLine(child, request.line);
  }

  private drainWaiting(): void {
    while (this.waiting.length > 0) {
      const request = this.waiting[0] as Request;
      const child = this.pick(request.id);
      if (!child) return;
      this.waiting.shift();
      this.send(child, request);
    }
  }

  private settle(request: Request): Request {
    request.abort.stopListening();
    return request;
  }

  /**
   * The request's AbortSignal fired (processing timeout or forced shutdown). The request fails, but
   * the child, which serves other requests too, is left alone unless it turns out to be stuck.
   */
  private abort(request: Request, reason: unknown): void {
    request.reject(reason);
    const child = request.child;
    if (!child) {
      const index = this.waiting.indexOf(request);
      if (index !== -1) this.waiting.splice(index, 1);
      return;
    }
    if (child.pending.get(request.id) !== request) return;
    child.pending.delete(request.id);
    if (!child.alive) return;
    const at = Date.now();
    child.abandoned.set(request.id, at);
    // A child that has not answered anything yet may still be starting up: each time its slot was killed
    // before answering, the next one gets twice the allowance, so a slow start is not killed in a loop.
    const allowance =
      child.lastReplyAt === 0 ? this.options.stuckAfterMs * 2 ** Math.min(this.failures[child.slot] ?? 0, 6) : this.options.stuckAfterMs;
    const timer = setTimeout(() => this.checkStuck(child, at), allowance);
    timer.unref();
  }

  /**
   * Runs stuckAfterMs after a request on this child timed out. Stuck: since that timeout the child has
   * written no reply at all, yet it still owes replies (the timed-out request, its retry, or others).
   * Timed-out requests older than the check are forgotten: a reply to them later counts as unknown.
   */
  private checkStuck(child: Child, abandonedAt: number): void {
    if (!child.alive || this.closing) return;
    const silent = child.lastReplyAt < abandonedAt;
    const owes = child.pending.size > 0 || child.abandoned.size > 0;
    for (const [id, at] of child.abandoned) if (at <= abandonedAt) child.abandoned.delete(id);
    if (!silent || !owes) return;
    this.stats.stuckKills++;
    child.stuck = true;
    this.logger.warn(
      { handlerPid: child.pid, instance: child.slot, inFlight: child.pending.size, silentMs: Date.now() - abandonedAt },
      'handler process is stuck (no reply since a request timed out); killing it',
    );
    killGroup(child.pid, 'SIGTERM');
    const force = setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
    force.unref();
    void child.exited.then(() => clearTimeout(force));
  }

  private onLine(child: Child, line: string, log: Logger): void {
    if (line.trim() === '') return;
    const reply = parseReply(line);
    const key = replyKey(reply);
    if (key === undefined) {
      const count = ++this.stats.invalidLines;
      if (shouldLog(count))
        log.warn(
          { line: excerpt(line), count },
          'handler wrote a line on stdout that is not a JSON reply with an id; ignored (write logs to stderr)',
        );
      return;
    }
    const request = child.pending.get(key);
    if (!request) {
      if (child.abandoned.delete(key)) {
        child.lastReplyAt = Date.now();
        this.stats.lateReplies++;
        log.debug({ messageId: key }, 'late reply for a request that had timed out; discarded');
        return;
      }
      const count = ++this.stats.unknownIds;
      if (shouldLog(count))
        log.warn({ messageId: key, line: excerpt(line), count }, 'handler replied with an id that has no request in flight; ignored');
      return;
    }
    child.lastReplyAt = Date.now();
    child.pending.delete(key);
    this.settle(request);
    const problem =
      request.batchSize === undefined
        ? settleFromReply(reply, request.resolve, request.reject)
          ? undefined
          : 'reply has neither "ok": true nor "ok": false; the request fails (retryable)'
        : settleBatchReply(reply, request.batchSize, request.resolve, request.reject);
    if (problem !== undefined) {
      const count = ++this.stats.malformedReplies;
      if (shouldLog(count)) log.warn({ messageId: key, line: excerpt(line), count }, problem);
    }
    if (this.waiting.length > 0) this.drainWaiting();
  }

  /** Closes every child's stdin (a handler exits at end of input), then signals those that linger. */
  async close(): Promise<void> {
    this.closing = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
    const error = new CommandError('the command handler is closing');
    for (const request of this.waiting.splice(0)) this.settle(request).reject(error);
    const children = this.children.filter((c): c is Child => c !== undefined && c.alive);
    await Promise.all(
      children.map(async (child) => {
        child.process.stdin?.end();
        const timers: NodeJS.Timeout[] = [];
        timers.push(setTimeout(() => killGroup(child.pid, 'SIGTERM'), this.closeGraceMs));
        timers.push(setTimeout(() => killGroup(child.pid, 'SIGKILL'), this.closeGraceMs + KILL_GRACE_MS));
        await child.exited;
        for (const timer of timers) clearTimeout(timer);
      }),
    );
  }
}
