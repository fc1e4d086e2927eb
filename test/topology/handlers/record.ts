import type { HandlerContext, Message } from '../../../src/index.ts';

// Test handler for the topology tests. It counts every id it handles, per source key, in this
// process (handled() reads the counts in-process), and returns {id, pid} so that a pipeline with
// an `output` records in Redis which process handled what. Body: {id, sleep?: ms}.

type Counts = Map<string, Map<string, number>>;
const shared = globalThis as { __pythiaTopologyHandled?: Counts };
// On globalThis: the pipeline imports this file through its own loader, the test file directly.
const counts: Counts = (shared.__pythiaTopologyHandled ??= new Map());

/** How many times each id was handled in this process, for one source key. */
export function handled(key: string): Map<string, number> {
  let map = counts.get(key);
  if (!map) counts.set(key, (map = new Map()));
  return map;
}

interface Body {
  id?: number | string;
  sleep?: number;
}

export async function handle(message: Message<Body>, context: HandlerContext): Promise<{ id: string; pid: number; consumer?: string }> {
  const body = message.body ?? {};
  if (body.sleep) await new Promise((resolve) => setTimeout(resolve, body.sleep));
  const id = String(body.id ?? message.id);
  const map = handled(message.source.key ?? context.pipeline);
  map.set(id, (map.get(id) ?? 0) + 1);
  return { id, pid: process.pid };
}

/** Does nothing: for throughput measurements of the worker itself. */
export async function noop(): Promise<void> {}
