import { Option, type Command } from 'commander';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Verbs that talk to Redis; each lives in its own file and is imported only when used. */
export function registerRuntimeCommands(program: Command, setExit: (code: number) => void): void {
  program
    .command('run')
    .description('run every pipeline given, in one process, until SIGTERM/SIGINT')
    .argument('<paths...>', 'pipeline files or directories')
    .addOption(new Option('--log-level <level>', 'log level (default: PYTHIA_LOG_LEVEL or info)').choices(LEVELS))
    .option('--redis-url <url>', 'override every pipeline\'s connection settings')
    .option('--watch', 'hot reload: a changed file is validated, then its pipeline drains and restarts (invalid edits are logged and ignored); SIGHUP reloads too')
    .action(async (paths: string[], opts: { logLevel?: string; redisUrl?: string; watch?: boolean }) => {
      const { runCommand } = await import('./run.ts');
      setExit(await runCommand(paths, { logLevel: opts.logLevel as never, redisUrl: opts.redisUrl, watch: opts.watch }));
    });

  program
    .command('produce')
    .description('send test messages to a pipeline\'s source (LPUSH / XADD / PUBLISH), pipelined')
    .argument('<file>', 'pipeline file')
    .requiredOption('--count <n>', 'number of messages')
    .option('--body <json>', 'message body; {{seq}} and {{now}} are replaced per message')
    .option('--file <path>', 'send this file\'s bytes as every message body')
    .option('--redis-url <url>', 'override the pipeline\'s connection settings')
    .action(async (file: string, opts: { count: string; body?: string; file?: string; redisUrl?: string }) => {
      const { produceCommand } = await import('./produce.ts');
      setExit(await produceCommand(file, opts));
    });

  program
    .command('demo')
    .description('the quick start: run the example list pipeline against a private redis-server (or REDIS_URL), produce messages, show them processed')
    .option('--count <n>', 'messages to produce', '2000')
    .action(async (opts: { count: string }) => {
      const { demoCommand } = await import('./demo.ts');
      setExit(await demoCommand({ count: Number(opts.count) }));
    });
}
