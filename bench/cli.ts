import { runBench } from './run.ts';
import { KINDS, type Kind } from './scenario.ts';

export interface BenchCliOptions {
  n: string;
  runs: string;
  liveSeconds: string;
  rates: string;
  bullmqN: string;
  bullmq: boolean;
  kinds: string;
  workerRss: boolean;
  out?: string;
}

/** `pythia bench`: every source kind through the real runtime, beside raw ioredis and BullMQ, on a private redis-server. */
export async function benchCommand(options: BenchCliOptions): Promise<number> {
  const kinds = options.kinds.split(',').filter(Boolean) as Kind[];
  const unknown = kinds.filter((k) => !KINDS.includes(k));
  if (unknown.length > 0) {
    process.stderr.write(`pythia bench: unknown kind ${unknown.join(', ')} (use ${KINDS.join(', ')})\n`);
    return 2;
  }
  const report = await runBench({
    n: Number(options.n),
    runs: Number(options.runs),
    liveSeconds: Number(options.liveSeconds),
    rates: options.rates.split(',').filter(Boolean).map(Number),
    bullmqN: Number(options.bullmqN),
    bullmqConcurrency: options.bullmq ? [1, 10, 100] : [],
    kinds,
    workerRss: options.workerRss,
    out: options.out,
    log: (line) => process.stderr.write(line + '\n'),
  });
  process.stdout.write(
    `\nPythia bench: node ${report.node}, redis ${report.redis}, ${report.options.runs} run(s), medians\n\n${report.table}\n`,
  );
  return 0;
}
