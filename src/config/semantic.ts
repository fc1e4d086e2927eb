import { accessSync, constants, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { newAjv } from './ajv.ts';
import { echo, echoJson } from './echo.ts';
import { checkFlowControl } from './flow-check.ts';
import { HandlerModuleError, loadHandlerFunction } from './handler-module.ts';
import { probeHandlerModule } from './handler-probe.ts';
import type { ConfigIssue, IssueReport } from './errors.ts';
import { toPointer } from './errors.ts';
import type { PipelineConfig } from './pipeline.types.ts';
import { linearRegExp } from './linear-regexp.ts';
import { FILE_LIMITS, maxBytesFor, readBoundedText } from './read-file.ts';
import { sourceKey as sourceKeyOf } from './targets.ts';
import { checkTopology } from './topology-check.ts';
import type { PositionedDocument } from './yaml-document.ts';

type Raw = Record<string, unknown>;

function reporter(doc: PositionedDocument, issues: ConfigIssue[]): IssueReport {
  return (message, at, target = 'value') => issues.push({ file: doc.file, ...doc.locate(at, target), message, pointer: toPointer(at) });
}

const obj = (value: unknown): Raw => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Raw) : {});

/** Checks on what the user wrote (before defaults), where a default would hide the mistake. */
export function checkWritten(raw: unknown, doc: PositionedDocument): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const report = reporter(doc, issues);
  const redis = obj(obj(raw).redis);
  const plain = ['host', 'port', 'db', 'username', 'password'].filter((k) => k in redis);
  if ('url' in redis && plain.length > 0)
    report(
      `redis.url and redis.${plain[0]} are both set: use the url alone (it can carry user:password@host:port/db) or drop it`,
      ['redis', plain[0] as string],
      'key',
    );
  const modes = ['url', 'cluster', 'sentinel'].filter((k) => k in redis);
  if (modes.length > 1)
    report(`redis.${modes[0]} and redis.${modes[1]} are both set: choose one connection mode`, ['redis', modes[1] as string], 'key');

  const handler = obj(obj(raw).handler);
  if ('module' in handler) {
    for (const key of ['mode', 'env', 'env_inherit', 'cwd', 'permanent_exit_codes', 'instances']) {
      if (key in handler) report(`handler.${key} applies only to command handlers, and this handler is a module`, ['handler', key], 'key');
    }
  }
  if ('command' in handler && 'export' in handler)
    report('handler.export applies only to module handlers, and this handler is a command', ['handler', 'export'], 'key');
  if ('instances' in handler && handler.mode !== 'persistent')
    report('handler.instances needs handler.mode: persistent', ['handler', 'instances'], 'key');
  if ('command' in handler && 'batch' in handler && handler.mode !== 'persistent')
    report(
      'handler.batch needs a module or handler.mode: persistent: a per-message command handles one message per process',
      ['handler', 'batch'],
      'key',
    );
  return issues;
}

/** Checks that need the file system or relations between fields, on a config with defaults applied. */
export async function checkMeaning(
  config: PipelineConfig,
  doc: PositionedDocument,
  options: { importModules: boolean; isolateModules?: boolean },
): Promise<ConfigIssue[]> {
  const written = obj(obj(doc.data).handler);
  const issues: ConfigIssue[] = [];
  const report = reporter(doc, issues);
  const dir = path.dirname(path.resolve(doc.file));
  checkKeys(config, report);
  checkMessage(config, dir, report);
  checkTlsFiles(config, dir, report);
  checkTopology(config, report);
  checkBatch(config, report);
  checkFlowControl(config, report);
  if (config.handler.module !== undefined)
    await checkModule(
      config.handler.module,
      config.handler.export,
      'export' in written,
      dir,
      options.importModules && (options.isolateModules ? 'child' : 'here'),
      report,
    );
  if (config.handler.command !== undefined) checkCommand(config.handler.command, path.resolve(dir, config.handler.cwd), report);
  return issues;
}

function checkKeys(config: PipelineConfig, report: IssueReport): void {
  const { list, stream, channel } = config.source;
  const sourceKey = sourceKeyOf(config);
  const kind = list ? 'list' : stream ? 'stream' : 'channel';
  if (channel && channel.channels.length === 0 && channel.patterns.length === 0) {
    report('source.channel needs at least one entry in channels or patterns', ['source', 'channel'], 'key');
  }
  const targets: { at: (string | number)[]; key: string | undefined; what: string }[] = [
    { at: ['dead_letter', 'list'], key: config.dead_letter.list, what: 'dead_letter.list' },
    { at: ['dead_letter', 'stream', 'key'], key: config.dead_letter.stream?.key, what: 'dead_letter.stream.key' },
    { at: ['output', 'list'], key: config.output.list, what: 'output.list' },
    { at: ['output', 'stream', 'key'], key: config.output.stream?.key, what: 'output.stream.key' },
  ];
  for (const target of targets) {
    if (target.key !== undefined && target.key === sourceKey) {
      report(
        `${target.what} "${target.key}" is the source ${kind} itself: messages would loop forever; use another key such as "${sourceKey}:${target.what.startsWith('dead') ? 'dead' : 'done'}"`,
        target.at,
      );
    }
  }
  const dead = config.dead_letter.list ?? config.dead_letter.stream?.key;
  const out = config.output.list ?? config.output.stream?.key;
  if (dead !== undefined && dead === out)
    report(
      `output and dead_letter both use "${dead}": results and failures would mix`,
      config.output.list ? ['output', 'list'] : ['output', 'stream', 'key'],
    );
  const { output } = config;
  if (output.envelope === 'pythia' && output.list === undefined && output.stream === undefined && output.channel === undefined)
    report('output.envelope says how results are packed, but there is no output: add output.list, output.stream or output.channel', [
      'output',
      'envelope',
    ]);
  if (channel && config.output.channel !== undefined && channel.channels.includes(config.output.channel)) {
    report(`output.channel "${config.output.channel}" is one of the source channels: results would be consumed again forever`, [
      'output',
      'channel',
    ]);
  }
}

/** A batch holds one concurrency slot per message, so one larger than concurrency could never fill. */
function checkBatch(config: PipelineConfig, report: IssueReport): void {
  const batch = config.handler.batch;
  if (batch === undefined || batch.max_size <= config.concurrency) return;
  report(
    `handler.batch.max_size ${batch.max_size} is larger than concurrency ${config.concurrency}: each message of a batch holds a concurrency slot, so the batch could never fill; raise concurrency to at least ${batch.max_size} (${2 * batch.max_size} lets one batch fill while another runs) or lower max_size`,
    ['handler', 'batch', 'max_size'],
  );
}

function checkMessage(config: PipelineConfig, dir: string, report: IssueReport): void {
  const schemaFile = config.message.schema;
  if (schemaFile === '') return;
  if (config.message.format !== 'json') {
    report(`message.schema needs message.format: json (the format is ${config.message.format})`, ['message', 'schema']);
    return;
  }
  const full = path.resolve(dir, schemaFile);
  if (!existsSync(full)) {
    report(`message.schema file not found: ${echo(schemaFile)} (resolved to ${echo(full)})`, ['message', 'schema']);
    return;
  }
  const read = readBoundedText(full, maxBytesFor('schema'), FILE_LIMITS.schema.env);
  if (!read.ok) {
    const where = read.line > 1 || read.col > 1 ? ` (line ${read.line}, column ${read.col} of the schema file)` : '';
    report(`message.schema ${echo(schemaFile)}: ${read.message}${where}`, ['message', 'schema']);
    return;
  }
  const text = read.text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    report(`message.schema ${echo(schemaFile)} is not valid JSON: ${jsonErrorWhere((error as Error).message, text)}`, [
      'message',
      'schema',
    ]);
    return;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    report(`message.schema ${echo(schemaFile)} is not a valid JSON Schema: it must be a JSON object`, ['message', 'schema']);
    return;
  }
  // The same options the runtime compiles the schema with, so validate and run agree.
  const ajv = newAjv({ strict: false, allErrors: true, verbose: true, code: { regExp: linearRegExp } });
  try {
    if (!ajv.validateSchema(parsed)) {
      const first = (ajv.errors ?? [])[0];
      const params = (first?.params ?? {}) as Record<string, unknown>;
      // Only a short value is shown back: the file parsed as a JSON object, so it is meant as a schema.
      const detail =
        first?.keyword === 'enum' && Array.isArray(params.allowedValues)
          ? `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${echoJson(first.data, 40)}`
          : (first?.message ?? 'is invalid');
      report(`message.schema ${echo(schemaFile)} is not a valid JSON Schema: ${echo(first?.instancePath || '/')} ${detail}`, [
        'message',
        'schema',
      ]);
      return;
    }
    ajv.compile(parsed);
  } catch (error) {
    report(`message.schema ${echo(schemaFile)} is not a valid JSON Schema: ${echo((error as Error).message.split('\n')[0] ?? '')}`, [
      'message',
      'schema',
    ]);
  }
}

/**
 * Where JSON.parse stopped, as "line 4, column 1 of the schema file", without the text around it:
 * the file may not be a schema at all (message.schema: /etc/shadow), so its content is never shown.
 */
function jsonErrorWhere(message: string, text: string): string {
  const position = /at position (\d+)/.exec(message);
  const what = /^Unexpected end of JSON input/.test(message)
    ? 'it ends too early'
    : /^Unexpected non-whitespace character after JSON/.test(message)
      ? 'more text after the JSON value'
      : 'unexpected character';
  if (!position) return what;
  const offset = Number(position[1]);
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const col = offset - before.lastIndexOf('\n');
  return `${what} (line ${line}, column ${col} of the schema file)`;
}

/** `child`: imported in a child process (validate: the module's code must not affect this process). */
async function checkModule(
  module: string,
  exportName: string,
  exportWritten: boolean,
  dir: string,
  importModules: false | 'child' | 'here',
  report: IssueReport,
): Promise<void> {
  const full = path.resolve(dir, module);
  if (!existsSync(full) || !statSync(full).isFile()) {
    report(`handler.module file not found: ${module} (resolved to ${full})`, ['handler', 'module']);
    return;
  }
  if (!importModules) return;
  try {
    if (importModules === 'child') await probeHandlerModule(full, exportName);
    else await loadHandlerFunction(full, exportName);
  } catch (error) {
    if (!(error instanceof HandlerModuleError)) throw error;
    // Name the module, and point at the export when the user wrote one (else at the module).
    const message = error.message.replace(/^handler module/, `handler module ${echo(module)}`);
    const aboutExport = error.message.includes(`"${exportName}"`);
    const hint = aboutExport && !exportWritten ? ": set handler.export to the function's name" : '';
    report(message + hint, ['handler', aboutExport && exportWritten ? 'export' : 'module']);
  }
}

function checkTlsFiles(config: PipelineConfig, dir: string, report: IssueReport): void {
  const tls = config.redis.tls;
  for (const key of ['ca_file', 'cert_file', 'key_file'] as const) {
    const file = tls[key];
    if (file === '') continue;
    const full = path.resolve(dir, file);
    if (!existsSync(full) || !statSync(full).isFile())
      report(`redis.tls.${key} not found: ${file} (resolved to ${full})`, ['redis', 'tls', key]);
  }
  if ((tls.cert_file === '') !== (tls.key_file === '')) {
    const set = tls.cert_file === '' ? 'key_file' : 'cert_file';
    const other = set === 'cert_file' ? 'key_file' : 'cert_file';
    report(
      `redis.tls.${set} needs redis.tls.${other} too: a client certificate and its private key go together`,
      ['redis', 'tls', set],
      'key',
    );
  }
}

function checkCommand(command: string[], cwd: string, report: IssueReport): void {
  const executable = command[0] as string;
  if (!existsSync(cwd) || !statSync(cwd).isDirectory()) {
    report(`handler.cwd is not a directory: ${cwd}`, ['handler', 'cwd']);
    return;
  }
  if (executable.includes('/')) {
    const full = path.resolve(cwd, executable);
    if (!isExecutable(full))
      report(`handler.command executable not found or not executable: ${executable} (resolved to ${full})`, ['handler', 'command', 0]);
    return;
  }
  const found = (process.env.PATH ?? '').split(path.delimiter).some((entry) => entry !== '' && isExecutable(path.join(entry, executable)));
  if (!found) report(`handler.command executable "${executable}" is not on the PATH`, ['handler', 'command', 0]);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
