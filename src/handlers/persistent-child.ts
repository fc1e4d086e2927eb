import { execa } from 'execa';
import { StderrTail, type CommandSpec } from './child-process.ts';

import type { AbortHook } from './runner.ts';

/** One request of the persistent protocol, from invoke() until its reply, failure or abort. */
export interface Request {
  id: string;
  line: string;
  /** The call's abort (processing timeout, forced shutdown): listened to until the request settles. */
  abort: AbortHook;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  child: Child | undefined;
  /** A batch request (handler.batch): how many messages its reply must answer. */
  batchSize: number | undefined;
}

/** One long-lived handler process in its slot, and the requests it owes replies for. */
export interface Child {
  slot: number;
  process: ReturnType<typeof startProcess>;
  pid: number | undefined;
  alive: boolean;
  /** Killed by the stuck check. */
  stuck: boolean;
  startedAt: number;
  lastReplyAt: number;
  pending: Map<string, Request>;
  /** Ids of timed-out requests whose reply has not come yet → when each timed out. */
  abandoned: Map<string, number>;
  outbox: string[];
  flushScheduled: boolean;
  tail: StderrTail;
  exited: Promise<void>;
}

function startProcess(spec: CommandSpec, slot: number) {
  return execa(spec.file, spec.args, {
    cwd: spec.cwd,
    env: { ...spec.env, PYTHIA_INSTANCE: String(slot) },
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    // Its own process group: a stuck child is killed with everything it started.
    detached: true,
  });
}

/** Starts the handler process for `slot` (PYTHIA_INSTANCE tells it which); its pipes are not read yet. */
export function startChild(spec: CommandSpec, slot: number): Child {
  const subprocess = startProcess(spec, slot);
  return {
    slot,
    process: subprocess,
    pid: subprocess.pid,
    alive: true,
    stuck: false,
    startedAt: Date.now(),
    lastReplyAt: 0,
    pending: new Map(),
    abandoned: new Map(),
    outbox: [],
    flushScheduled: false,
    tail: new StderrTail(),
    exited: Promise.resolve(),
  };
}

/** Queues a request line for the child's stdin: requests started in the same tick (a fetched batch) go out in one write. */
export function sendLine(child: Child, line: string): void {
  child.outbox.push(line);
  if (child.flushScheduled) return;
  child.flushScheduled = true;
  process.nextTick(() => {
    child.flushScheduled = false;
    if (!child.alive || child.outbox.length === 0) return;
    const data = child.outbox.length === 1 ? (child.outbox[0] as string) : child.outbox.join('');
    child.outbox.length = 0;
    child.process.stdin?.write(data);
  });
}
