import type { Result } from './scenario.ts';
import { benchBody } from './scenario.ts';
import { rssSampler } from './stats.ts';

/** BullMQ (a devDependency) draining n jobs with a no-op processor at one concurrency. Undefined when BullMQ is not installed. */
export async function bullmqDrain(url: string, n: number, concurrency: number, run: number): Promise<Result | undefined> {
  let bullmq: typeof import('bullmq');
  try {
    bullmq = await import('bullmq');
  } catch {
    return undefined;
  }
  const { hostname, port } = new URL(url);
  const connection = { host: hostname, port: Number(port), maxRetriesPerRequest: null };
  const name = `bench-bull-${concurrency}-${run}`;
  const queue = new bullmq.Queue(name, { connection });
  for (let i = 0; i < n; i += 1000) {
    await queue.addBulk(
      Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({
        name: 'job',
        data: JSON.parse(benchBody(i + j)) as object,
        opts: { removeOnComplete: true },
      })),
    );
  }
  let completed = 0;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  const peak = rssSampler();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const worker = new bullmq.Worker(name, async () => undefined, { connection, concurrency });
  worker.on('completed', () => {
    if (++completed >= n) resolve();
  });
  await Promise.race([done, new Promise((r) => setTimeout(r, 120_000))]);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await worker.close();
  await queue.obliterate({ force: true }).catch(() => undefined);
  await queue.close();
  const cpuUs = cpu.user + cpu.system;
  return {
    scenario: `bullmq c=${concurrency}`,
    kind: 'bullmq',
    system: 'bullmq',
    messages: completed,
    msgPerSec: completed / seconds,
    cpuPercent: (cpuUs / 1e6 / seconds) * 100,
    cpuUsPerMsg: cpuUs / Math.max(1, completed),
    peakRssMb: peak(),
    errors: n - completed,
  };
}
