import { existsSync } from 'node:fs';
import { Option, type Command } from 'commander';

import { LOG_LEVELS } from '../runtime/log-level.ts';

/** Commander's way to repeat an option: each occurrence is appended. */
const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Verbs that talk to Redis; each lives in its own file and is imported only when used. */
export function registerRuntimeCommands(program: Command, setExit: (code: number) => void): void {
  program
    .command('run')
    .description('run every pipeline given, in one process, until SIGTERM/SIGINT')
    .argument('<paths...>', 'pipeline files or directories')
    .addOption(new Option('--log-level <level>', 'log level (default: PYTHIA_LOG_LEVEL or info)').choices(LOG_LEVELS))
    .option('--redis-url <url>', "override every pipeline's connection settings")
    .option(
      '--watch',
      'hot reload: a changed file is validated, then its pipeline drains and restarts (invalid edits are logged and ignored); SIGHUP reloads too',
    )
    .option('--strict', 'warnings in pipeline files (e.g. seconds in a *_ms key) are errors: the worker does not start')
    .action(async (paths: string[], opts: { logLevel?: string; redisUrl?: string; watch?: boolean; strict?: boolean }) => {
      const { runCommand } = await import('./run.ts');
      setExit(
        await runCommand(paths, { logLevel: opts.logLevel as never, redisUrl: opts.redisUrl, watch: opts.watch, strict: opts.strict }),
      );
    });

  program
    .command('produce')
    .description("send test messages to a pipeline's source (LPUSH, or RPUSH with pop_from: left / XADD / PUBLISH), pipelined")
    .argument('<file>', 'pipeline file')
    .requiredOption('--count <n>', 'number of messages')
    .option('--body <json>', 'message body; {{seq}} and {{now}} are replaced per message')
    .option('--file <path>', "send this file's bytes as every message body")
    .option('--redis-url <url>', "override the pipeline's connection settings")
    .option('--trim', 'streams: XADD with MAXLEN ~ source.stream.max_stream_length (lossy: removes entries no worker has read)')
    .option('--header <name=value>', 'a header sent with every message (repeatable), e.g. traceparent=00-...-01', collect, [])
    .action(
      async (file: string, opts: { count: string; body?: string; file?: string; redisUrl?: string; trim?: boolean; header: string[] }) => {
        const { produceCommand } = await import('./produce.ts');
        setExit(await produceCommand(file, opts));
      },
    );

  program
    .command('bench')
    .description(
      'benchmark every source kind as deployed (`pythia run` in its own process) and in-process, beside raw ioredis loops and BullMQ, on a private redis-server',
    )
    .option('--n <count>', 'messages per drain run', '100000')
    .option('--runs <count>', 'repetitions (medians are reported)', '3')
    .option('--live-seconds <s>', 'duration of each live-rate run', '5')
    .option('--rates <list>', 'live producer rates, msg/s', '2000,10000')
    .option('--bullmq-n <count>', 'jobs per BullMQ run', '20000')
    .option('--no-bullmq', 'skip BullMQ')
    .option('--kinds <list>', 'source kinds', 'list-alo,list-amo,stream,channel')
    .option('--no-worker-rss', 'skip the deployed runs (`pythia run` in its own process, metrics on: the headline rows)')
    .option('--out <file>', 'JSON results file (default .bench/results-<time>.json)')
    .action(async (opts: Record<string, string | boolean>) => {
      setExit(await benchFromCheckout(opts));
    });

  const dlq = program
    .command('dlq')
    .description("inspect, replay into the source, or empty a pipeline's dead letter (exit 0 ok, 1 failed, 2 usage)");
  dlq
    .command('list')
    .description('one line per entry, oldest first: id, reason, attempts, error, source, failure times, payload preview')
    .argument('<file>', 'pipeline file')
    .option('--limit <n>', 'at most this many entries (0: all)', '100')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--redis-url <url>', "override the pipeline's connection settings")
    .action(async (file: string, opts: { limit: string; format: 'text' | 'json'; redisUrl?: string }) => {
      const { dlqListCommand } = await import('./dlq.ts');
      setExit(await dlqListCommand(file, opts));
    });
  dlq
    .command('replay')
    .description(
      'send entries back into the source (to the end of a list taken last / XADD / PUBLISH) as new messages; each leaves the dead letter once re-sent',
    )
    .argument('<file>', 'pipeline file')
    .option('--id <id...>', 'entry ids as `dlq list` prints them (or a message_id naming one entry)')
    .option('--all', 'every entry of this pipeline')
    .option('--redis-url <url>', "override the pipeline's connection settings")
    .action(async (file: string, opts: { id?: string[]; all?: boolean; redisUrl?: string }) => {
      const { dlqReplayCommand } = await import('./dlq.ts');
      setExit(await dlqReplayCommand(file, opts));
    });
  dlq
    .command('purge')
    .description('delete every entry of the dead letter (needs --yes)')
    .argument('<file>', 'pipeline file')
    .option('--yes', 'really delete')
    .option('--redis-url <url>', "override the pipeline's connection settings")
    .action(async (file: string, opts: { yes?: boolean; redisUrl?: string }) => {
      const { dlqPurgeCommand } = await import('./dlq.ts');
      setExit(await dlqPurgeCommand(file, opts));
    });

  program
    .command('console')
    .description(
      'serve a web page and JSON API for operators: pipelines, live workers, dead letters to read, replay and purge (from Redis alone)',
    )
    .argument('<paths...>', 'pipeline files or directories')
    .option('--host <host>', 'address to bind; any but loopback needs PYTHIA_CONSOLE_TOKEN', '127.0.0.1')
    .option('--port <port>', 'port (0: any free one)', '9400')
    .option('--redis-url <url>', "override every pipeline's connection settings")
    .action(async (paths: string[], opts: { host: string; port: string; redisUrl?: string }) => {
      const { consoleCommand } = await import('./console.ts');
      setExit(await consoleCommand(paths, opts));
    });

  program
    .command('demo')
    .description(
      'the quick start: run the example list pipeline against a private redis-server (or REDIS_URL), produce messages, show them processed',
    )
    .option('--count <n>', 'messages to produce', '2000')
    .action(async (opts: { count: string }) => {
      const { demoCommand } = await import('./demo.ts');
      setExit(await demoCommand({ count: Number(opts.count) }));
    });
}

/**
 * The benchmarks (bench/ at the top of the repository) are not part of the published package: they need
 * BullMQ and a source checkout. `pythia bench` loads them from the checkout it runs in, through tsx.
 */
async function benchFromCheckout(opts: Record<string, string | boolean>): Promise<number> {
  const entry = new URL('../../bench/cli.ts', import.meta.url);
  if (!existsSync(entry)) {
    process.stderr.write(
      'pythia bench runs from a source checkout of Pythia (the benchmarks are not in the published package): clone the repository, npm ci, then npm run bench\n',
    );
    return 2;
  }
  const { register } = await import('tsx/esm/api');
  register();
  const { benchCommand } = (await import(entry.href)) as { benchCommand(options: Record<string, string | boolean>): Promise<number> };
  return benchCommand(opts);
}
