import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { loadPipelines } from '../config/index.ts';
import { createLogger } from '../runtime/logger.ts';
import { Producer } from '../producer/producer.ts';
import { DEFAULT_BODY, renderBodies } from './produce.ts';
import { Worker } from '../runtime/worker.ts';
import { startRedis, type RedisServer } from '../testing/redis-server.ts';

// Shipped in the package (package.json "files"), so the demo runs from an installed copy too.
const EXAMPLE = fileURLToPath(new URL('../../pipelines/orders.yml', import.meta.url));

/**
 * `npx pythia demo`: runs the example list pipeline end to end, against REDIS_URL when it is set and
 * otherwise against a private redis-server on a free port, then stops everything it started: after
 * success, after an error, and on SIGINT/SIGTERM (a second signal exits at once; the server is killed
 * either way, by the 'exit' hook of the harness).
 */
export async function demoCommand(options: { count: number }): Promise<number> {
  const count = Number.isInteger(options.count) && options.count > 0 ? options.count : 2000;
  let server: RedisServer | undefined;
  let worker: Worker | undefined;
  let redis: Redis | undefined;
  let interrupted: NodeJS.Signals | undefined;
  const cleanup = async () => {
    await worker?.stop(2000).catch(() => undefined);
    redis?.disconnect();
    await server?.stop();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = signal;
    process.stderr.write(`${signal}: stopping the demo\n`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    let url = process.env.REDIS_URL;
    if (!url) {
      server = await startRedis();
      url = server.url;
      process.stdout.write(`started a private redis-server on port ${server.port} (set REDIS_URL to use your own)\n`);
    } else {
      process.stdout.write('using the Redis at REDIS_URL\n');
    }
    const [pipeline] = await loadPipelines([EXAMPLE], { env: { ...process.env, PYTHIA_METRICS_ENABLED: 'false' } });
    if (!pipeline) return 1;
    const { config } = pipeline;
    const queue = config.source.list?.key as string;
    const done = config.output.stream?.key as string;
    redis = new Redis(url);
    worker = await Worker.start([pipeline], { redisUrl: url, logger: createLogger('warn') });
    const before = await redis.xlen(done);
    process.stdout.write(
      `pipeline ${config.name}: list ${queue} -> ${path.relative(process.cwd(), path.resolve(pipeline.dir, config.handler.module ?? ''))} -> stream ${done}\n`,
    );
    const started = performance.now();
    const producer = Producer.forPipeline(pipeline, { redisUrl: url });
    try {
      // In steps, so that a signal is handled while a large --count is being sent.
      for (let first = 1; first <= count && !interrupted; first += 10_000) {
        await producer.sendMany(renderBodies(DEFAULT_BODY, first, Math.min(10_000, count - first + 1)).map((body) => ({ body })));
      }
    } finally {
      await producer.close();
    }
    process.stdout.write(`produced ${count} orders with LPUSH\n`);
    let processed = 0;
    const deadline = Date.now() + 60_000;
    while (processed < count && Date.now() < deadline && !interrupted) {
      await new Promise((r) => setTimeout(r, 100));
      processed = (await redis.xlen(done)) - before;
    }
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(
      `processed ${processed} of ${count} in ${seconds.toFixed(2)} s (${Math.round(processed / seconds)} msg/s, produce included)\n`,
    );
    const last = await redis.xrevrange(done, '+', '-', 'COUNT', 3);
    for (const [id, fields] of last.reverse()) process.stdout.write(`  ${done} ${id} ${fields[1]}\n`);
    return processed === count ? 0 : 1;
  } finally {
    if (!interrupted) {
      await cleanup();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}
