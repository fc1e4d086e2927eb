import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { schemaPath } from '../config/index.ts';
import { LOG_FORMATS, setLogFormat, type LogFormat } from '../runtime/logger.ts';
import { EXIT } from './exit-codes.ts';
import { validateCommand } from './validate.ts';

/** The package's own version (package.json is two levels up from src/cli and from dist/cli alike). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** Parses arguments and dispatches to one file per verb. Returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = new Command('pythia')
    .description('A declarative, crash-safe worker for Redis lists, streams and pub/sub channels')
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .addOption(
      new Option(
        '--log-format <format>',
        'log lines as JSON or pretty (default: PYTHIA_LOG_FORMAT, else pretty on a terminal, JSON otherwise)',
      ).choices(LOG_FORMATS),
    )
    .exitOverride()
    .showHelpAfterError('(run pythia --help for usage)')
    .hook('preAction', (command) => {
      setLogFormat(command.opts<{ logFormat?: LogFormat }>().logFormat);
    });

  program
    .command('validate')
    .description('check pipeline files: schema, env vars, handler, keys (exit 0 valid, 1 invalid or missing, 2 usage)')
    .argument('<paths...>', 'pipeline files or directories of *.yml')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--strict', 'warnings (e.g. seconds in a *_ms key) are errors: exit 1')
    .action(async (paths: string[], opts: { format: 'text' | 'json'; strict?: boolean }) => {
      exitCode = await validateCommand(paths, opts);
    });

  program
    .command('schema')
    .description('print the pipeline JSON Schema')
    .action(() => {
      process.stdout.write(readFileSync(schemaPath, 'utf8'));
    });

  program
    .command('types')
    .description('generate TypeScript types: the config types, and message body types from message.schema')
    .argument('[files...]', 'pipeline files whose message.schema gives a body type')
    .option('--out <dir>', 'write files into this directory instead of stdout')
    .option('--config-out <file>', 'also write the config types to this file')
    .action(async (files: string[], opts: { out?: string; configOut?: string }) => {
      // Loaded on use: json-schema-to-typescript (and the prettier it brings) cost ~90 ms of every start.
      const { typesCommand } = await import('./types.ts');
      exitCode = await typesCommand(files, opts);
    });

  const { registerRuntimeCommands } = await import('./runtime-commands.ts');
  registerRuntimeCommands(program, (code) => {
    exitCode = code;
  });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help, `pythia help` and --version succeed; help shown because no verb was given is a usage error.
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT.ok;
      if (error.code === 'commander.help') return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return EXIT.usage;
    }
    throw error;
  }
  return exitCode;
}
