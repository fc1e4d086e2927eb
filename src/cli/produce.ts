import { readFileSync } from 'node:fs';
import { loadPipelines } from '../config/index.ts';
import { Producer } from '../runtime/producer.ts';

export interface ProduceCliOptions {
  count: string;
  body?: string;
  file?: string;
  redisUrl?: string;
  trim?: boolean;
}

/** `pythia produce FILE --count N [--body JSON | --file F] [--trim]`. */
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
  const [pipeline] = await loadPipelines([file], { importModules: false });
  if (!pipeline) return 1;
  const body = options.file !== undefined ? readFileSync(options.file) : options.body;
  const producer = new Producer(pipeline, options.redisUrl);
  const started = performance.now();
  try {
    const sent = await producer.send({ count, body, trimStream: options.trim === true });
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`sent ${sent} messages to ${pipeline.config.name} in ${seconds.toFixed(2)} s (${Math.round(sent / seconds)} msg/s)\n`);
    return 0;
  } finally {
    await producer.close();
  }
}
