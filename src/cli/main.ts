import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { schemaPath } from '../config/index.ts';
import { typesCommand } from './types.ts';
import { validateCommand } from './validate.ts';

const USAGE_EXIT = 2;

/** Parses arguments and dispatches to one file per verb. Returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = new Command('pythia')
    .description('A declarative, crash-safe worker for Redis lists, streams and pub/sub channels')
    .exitOverride()
    .showHelpAfterError('(run pythia --help for usage)');

  program
    .command('validate')
    .description('check pipeline files: schema, env vars, handler, keys (exit 0 valid, 1 invalid, 2 usage)')
    .argument('<paths...>', 'pipeline files or directories of *.yml')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (paths: string[], opts: { format: 'text' | 'json' }) => {
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
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
      return USAGE_EXIT;
    }
    throw error;
  }
  return exitCode;
}
