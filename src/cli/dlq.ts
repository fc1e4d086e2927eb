import { echo } from '../config/echo.ts';
import { loadPipelines, type LoadedPipeline } from '../config/index.ts';
import { closeClient, connectFor } from '../dlq/connect.ts';
import { formatJson, formatLine } from '../dlq/format.ts';
import { deadLetterLocation, describeLocation, replayTarget } from '../dlq/location.ts';
import { DeadLetterTypeError, purgeDeadLetters } from '../dlq/purge.ts';
import { countEntries, scanEntries, type StoredEntry } from '../dlq/read.ts';
import { replayDeadLetters } from '../dlq/replay.ts';
import type { RedisClient } from '../redis/connection.ts';
import { EXIT } from './exit-codes.ts';

const USAGE = EXIT.usage;

export interface DlqCommonOptions {
  redisUrl?: string;
}

export interface DlqListOptions extends DlqCommonOptions {
  limit?: string;
  format?: 'text' | 'json';
}

export interface DlqReplayOptions extends DlqCommonOptions {
  id?: string[];
  all?: boolean;
}

export interface DlqPurgeOptions extends DlqCommonOptions {
  yes?: boolean;
}

/** Where a command writes: entry lines to `out`, summaries and problems to `err` (tests pass their own). */
export interface DlqOutput {
  out: (text: string) => void;
  err: (text: string) => void;
}

const STDIO: DlqOutput = { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) };

async function withPipeline(
  file: string,
  options: DlqCommonOptions,
  run: (pipeline: LoadedPipeline, client: RedisClient) => Promise<number>,
): Promise<number> {
  const [pipeline] = await loadPipelines([file], { importModules: false });
  if (!pipeline) return 1;
  const client = await connectFor(pipeline, options.redisUrl);
  try {
    return await run(pipeline, client);
  } finally {
    await closeClient(client);
  }
}

/** `pythia dlq list FILE [--limit N] [--format json]`: oldest first; entry lines on stdout, a summary on stderr. */
export async function dlqListCommand(file: string, options: DlqListOptions, io: DlqOutput = STDIO): Promise<number> {
  const say = (line: string) => io.err(`${line}\n`);
  const limit = options.limit === undefined ? 100 : Number(options.limit);
  if (!Number.isInteger(limit) || limit < 0) {
    say(`pythia dlq list: --limit must be a whole number (0: no limit), got ${options.limit}`);
    return USAGE;
  }
  return withPipeline(file, options, async (pipeline, client) => {
    const location = deadLetterLocation(pipeline);
    const total = await countEntries(client, location);
    let shown = 0;
    const out: string[] = [];
    for await (const stored of scanEntries(client, location)) {
      if (limit > 0 && shown >= limit) break;
      out.push(options.format === 'json' ? formatJson(stored) : formatLine(stored));
      shown++;
      if (out.length >= 500) io.out(out.splice(0).join('\n') + '\n');
    }
    if (out.length > 0) io.out(out.join('\n') + '\n');
    const more = shown < total ? ` (showing the oldest ${shown}; --limit 0 shows all)` : '';
    say(
      `dead letter ${describeLocation(location)} of pipeline ${pipeline.config.name}: ${total} ${total === 1 ? 'entry' : 'entries'}${more}`,
    );
    return 0;
  });
}

/** `pythia dlq replay FILE (--id ID... | --all)`: back into the source, oldest first, attempts reset. */
export async function dlqReplayCommand(file: string, options: DlqReplayOptions, io: DlqOutput = STDIO): Promise<number> {
  const say = (line: string) => io.err(`${line}\n`);
  const ids = options.id ?? [];
  if (ids.length > 0 === Boolean(options.all)) {
    say('pythia dlq replay: give --id ID (one or more) or --all');
    return USAGE;
  }
  return withPipeline(file, options, async (pipeline, client) => {
    const location = deadLetterLocation(pipeline);
    const target = replayTarget(pipeline);
    // One write per batch as it is moved: nothing accumulates, whatever the dead letter's size.
    const onReplayed = (batch: readonly StoredEntry[]) =>
      io.out(
        batch
          .map(
            (stored) => `replayed ${echo(stored.id)}
`,
          )
          .join(''),
      );
    const report = await replayDeadLetters(client, location, target, {
      pipeline: pipeline.config.name,
      ids: options.all ? undefined : ids,
      onReplayed,
    });
    const where = target.kind === 'channel' ? 'its channel' : `${target.kind} ${target.key}`;
    say(`replayed ${report.replayed} ${report.replayed === 1 ? 'entry' : 'entries'} from ${describeLocation(location)} into ${where}`);
    if (report.alreadyGone > 0)
      say(
        `${report.alreadyGone} ${report.alreadyGone === 1 ? 'entry was' : 'entries were'} gone when reached (replayed or purged by another command meanwhile)`,
      );
    if (report.otherPipeline > 0) say(`left ${report.otherPipeline} entries of other pipelines sharing this dead letter in place`);
    if (report.unreadable > 0) say(`left ${report.unreadable} elements that are not dead-letter entries in place`);
    for (const id of report.notFound) say(`no entry with id or message_id ${echo(id)}`);
    for (const { id, matches } of report.ambiguous)
      say(`message_id ${echo(id)} names ${matches.length} entries: use an entry id (${echo(matches.join(', '), 400)})`);
    for (const { entry, error } of report.failed) say(`could not replay ${echo(entry.id)} (kept in the dead letter): ${echo(error, 400)}`);
    const incomplete = report.notFound.length + report.ambiguous.length + report.failed.length > 0;
    const skippedAsked = !options.all && report.otherPipeline + report.unreadable > 0;
    return incomplete || skippedAsked ? 1 : 0;
  });
}

/** `pythia dlq purge FILE --yes`: empties the dead letter (refuses without --yes: exit 2). */
export async function dlqPurgeCommand(file: string, options: DlqPurgeOptions, io: DlqOutput = STDIO): Promise<number> {
  const say = (line: string) => io.err(`${line}\n`);
  if (!options.yes) {
    say('pythia dlq purge: this deletes every entry of the dead letter for good; run again with --yes');
    return USAGE;
  }
  return withPipeline(file, options, async (pipeline, client) => {
    const location = deadLetterLocation(pipeline);
    let count: number;
    try {
      count = await purgeDeadLetters(client, location);
    } catch (error) {
      if (!(error instanceof DeadLetterTypeError)) throw error;
      say(`pythia dlq purge: ${error.message}`);
      return 1;
    }
    say(`purged ${count} ${count === 1 ? 'entry' : 'entries'} from ${describeLocation(location)}`);
    return 0;
  });
}
