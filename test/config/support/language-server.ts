// A minimal Language Server Protocol client for yaml-language-server over stdio: just enough to open
// a document, collect its diagnostics and ask for a hover, as an editor does.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export interface Diagnostic {
  range: { start: { line: number; character: number } };
  message: string;
}

interface Message {
  id?: number;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { message: string };
}

const SETTINGS = { yaml: { validate: true, hover: true, completion: true, schemaStore: { enable: false }, schemas: {} } };

export class LanguageServer {
  private buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly pending = new Map<number, (message: Message) => void>();
  private readonly diagnostics = new Map<string, (list: Diagnostic[]) => void>();
  private versions = new Map<string, number>();

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (chunk: Buffer) => this.receive(chunk));
    child.stderr.resume();
  }

  static async start(root: string): Promise<LanguageServer> {
    const entry = path.join(
      path.dirname(createRequire(import.meta.url).resolve('yaml-language-server/package.json')),
      'bin/yaml-language-server',
    );
    const server = new LanguageServer(spawn(process.execPath, [entry, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] }));
    await server.request('initialize', {
      processId: process.pid,
      rootUri: pathToFileURL(root).href,
      capabilities: {
        textDocument: { hover: { contentFormat: ['markdown', 'plaintext'] }, publishDiagnostics: {} },
        workspace: { configuration: true },
      },
    });
    server.notify('initialized', {});
    server.notify('workspace/didChangeConfiguration', { settings: SETTINGS });
    return server;
  }

  /** Opens (or reopens) the document and waits for the diagnostics published for it. */
  async diagnose(file: string, text: string, timeoutMs = 30_000): Promise<Diagnostic[]> {
    const uri = pathToFileURL(file).href;
    const version = (this.versions.get(uri) ?? 0) + 1;
    const published = new Promise<Diagnostic[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no diagnostics for ${file} within ${timeoutMs} ms`)), timeoutMs);
      this.diagnostics.set(uri, (list) => {
        clearTimeout(timer);
        resolve(list);
      });
    });
    if (version > 1) this.notify('textDocument/didClose', { textDocument: { uri } });
    this.versions.set(uri, version);
    this.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'yaml', version, text } });
    return published;
  }

  /** The hover text at a 0-based line and character, as markdown ('' when there is none). */
  async hover(file: string, line: number, character: number): Promise<string> {
    const result = (await this.request('textDocument/hover', {
      textDocument: { uri: pathToFileURL(file).href },
      position: { line, character },
    })) as { contents?: { value?: string } | string } | null;
    const contents = result?.contents;
    return typeof contents === 'string' ? contents : (contents?.value ?? '');
  }

  async stop(): Promise<void> {
    await this.request('shutdown', null).catch(() => undefined);
    this.notify('exit', null);
    await new Promise<void>((resolve) => {
      if (this.child.exitCode !== null) resolve();
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private request(method: string, params: unknown): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (message) => (message.error ? reject(new Error(message.error.message)) : resolve(message.result)));
      this.send({ id, method, params });
    });
  }

  private notify(method: string, params: unknown): void {
    this.send({ method, params });
  }

  private send(message: Message): void {
    const body = JSON.stringify({ jsonrpc: '2.0', ...message });
    this.child.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const headerEnd = this.buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const length = Number(/Content-Length: (\d+)/i.exec(this.buffer.subarray(0, headerEnd).toString())?.[1]);
      if (this.buffer.length < headerEnd + 4 + length) return;
      const message = JSON.parse(this.buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString()) as Message;
      this.buffer = this.buffer.subarray(headerEnd + 4 + length);
      this.dispatch(message);
    }
  }

  private dispatch(message: Message): void {
    if (message.method !== undefined && message.id !== undefined) {
      // A request from the server: its settings (one per requested section), or a plain acknowledgement.
      const items = (message.params as { items?: { section?: string }[] } | undefined)?.items;
      const result =
        message.method === 'workspace/configuration'
          ? (items ?? []).map((item) => (item.section === 'yaml' ? SETTINGS.yaml : item.section ? null : SETTINGS))
          : null;
      this.send({ id: message.id, result } as Message);
      return;
    }
    if (message.method === 'textDocument/publishDiagnostics') {
      const { uri, diagnostics } = message.params as { uri: string; diagnostics: Diagnostic[] };
      const waiter = this.diagnostics.get(uri);
      this.diagnostics.delete(uri);
      waiter?.(diagnostics);
      return;
    }
    if (message.id !== undefined) {
      this.pending.get(message.id)?.(message);
      this.pending.delete(message.id);
    }
  }
}
