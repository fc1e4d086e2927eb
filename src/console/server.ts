import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadedPipeline } from '../config/index.ts';
import { scrubSecrets } from '../redis/redact.ts';
import { DeadLetterTypeError } from '../dlq/purge.ts';
import { ConsoleAuth, isLoopback, sameOrigin, type Authenticated } from './auth.ts';
import type { PipelineClients } from './clients.ts';
import { MAX_PAGE, purgeSelection, readPage, replaySelection, type Selection } from './dead-letters.ts';
import { pipelineOverview } from './overview.ts';

/** A request body larger than this is refused (413): the largest legitimate one is a list of ids. */
export const MAX_BODY_BYTES = 256 * 1024;
const MAX_IDS = 10_000;

const ASSETS = fileURLToPath(new URL('../../src/console/assets/', import.meta.url));
const UPLOT = path.join(path.dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Every static file, read once at start: the page is a handful of ES modules and uPlot, no build step. */
function loadAssets(): Map<string, { type: string; body: Buffer }> {
  const files = new Map<string, { type: string; body: Buffer }>();
  for (const name of readdirSync(ASSETS))
    files.set(`/assets/${name}`, {
      type: TYPES[path.extname(name)] ?? 'application/octet-stream',
      body: readFileSync(path.join(ASSETS, name)),
    });
  files.set('/assets/vendor/uPlot.esm.js', { type: TYPES['.js'] as string, body: readFileSync(path.join(UPLOT, 'uPlot.esm.js')) });
  files.set('/assets/vendor/uPlot.min.css', { type: TYPES['.css'] as string, body: readFileSync(path.join(UPLOT, 'uPlot.min.css')) });
  return files;
}

const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on the login form's POST.
  'Referrer-Policy': 'same-origin',
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ConsoleServerOptions {
  host: string;
  port: number;
  /** PYTHIA_CONSOLE_TOKEN: required on any address but loopback. */
  token?: string;
  pipelines: readonly LoadedPipeline[];
  clients: PipelineClients;
}

/**
 * `pythia console`: the page and its JSON API (docs/console.md), over node:http. Everything it shows
 * comes from Redis; nothing is kept between requests but the login sessions.
 */
export class ConsoleServer {
  private readonly server: Server;
  private readonly auth: ConsoleAuth;
  private readonly assets = loadAssets();
  private readonly byName: Map<string, LoadedPipeline>;
  private allowedHosts: Set<string> | undefined;
  private bound: AddressInfo | undefined;

  constructor(private readonly options: ConsoleServerOptions) {
    if (!isLoopback(options.host) && !options.token)
      throw new Error(
        `refusing to serve the console on ${options.host}: set PYTHIA_CONSOLE_TOKEN (anyone reaching that address could replay and purge dead letters), or bind 127.0.0.1`,
      );
    this.auth = new ConsoleAuth(options.token || undefined);
    this.byName = new Map(options.pipelines.map((p) => [p.config.name, p]));
    this.server = createServer((request, response) => void this.handle(request, response));
    this.server.keepAliveTimeout = 5000;
    this.server.requestTimeout = 30_000;
    this.server.headersTimeout = 10_000;
  }

  listen(): Promise<this> {
    return new Promise((resolve, reject) => {
      this.server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new Error(error.code === 'EADDRINUSE' ? `port ${this.options.port} on ${this.options.host} is in use (--port)` : error.message),
        ),
      );
      this.server.listen(this.options.port, this.options.host, () => {
        this.bound = this.server.address() as AddressInfo;
        const port = this.bound.port;
        // On loopback only these names may reach the server: anything else in Host is DNS rebinding.
        this.allowedHosts = isLoopback(this.options.host)
          ? new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `${this.options.host}:${port}`])
          : undefined;
        resolve(this);
      });
    });
  }

  get port(): number {
    return this.bound?.port ?? this.options.port;
  }

  get url(): string {
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    return `http://${host}:${this.port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(name, value);
    try {
      await this.route(request, response);
    } catch (error) {
      const status = error instanceof HttpError ? error.status : error instanceof DeadLetterTypeError ? 409 : 500;
      const message =
        error instanceof HttpError || error instanceof RangeError || error instanceof DeadLetterTypeError
          ? error.message
          : `console error: ${scrubSecrets((error as Error).message)}`;
      if (!response.headersSent) sendJson(response, error instanceof RangeError ? 400 : status, { error: message });
      else response.end();
    }
  }

  private async route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://console');
    const method = request.method ?? 'GET';
    if (!sameOrigin(request, this.allowedHosts)) throw new HttpError(403, 'this request names another site (Host or Origin): refused');
    if (url.pathname === '/login') return this.login(request, response, method);
    if (url.pathname === '/assets/style.css' && method === 'GET') return this.asset(response, url.pathname);
    const how = this.auth.check(request);
    if (!how) {
      if (url.pathname.startsWith('/api/'))
        throw new HttpError(401, 'a token is required: Authorization: Bearer <PYTHIA_CONSOLE_TOKEN>, or log in at /login');
      response.writeHead(303, { Location: '/login' }).end();
      return;
    }
    if (method === 'GET' && url.pathname === '/') return this.page(response);
    if (method === 'GET' && this.assets.has(url.pathname)) return this.asset(response, url.pathname);
    if (url.pathname === '/logout' && method === 'POST') {
      response.writeHead(303, { Location: '/login', 'Set-Cookie': this.auth.logout(request) }).end();
      return;
    }
    if (url.pathname.startsWith('/api/')) return this.api(request, response, method, url, how);
    throw new HttpError(404, 'not found');
  }

  private async api(request: IncomingMessage, response: ServerResponse, method: string, url: URL, how: Authenticated): Promise<void> {
    response.setHeader('Cache-Control', 'no-store');
    if (url.pathname === '/api/session' && method === 'GET')
      return sendJson(response, 200, { csrf: this.auth.csrf, token_required: this.auth.required });
    if (url.pathname === '/api/pipelines' && method === 'GET') {
      const pipelines = await Promise.all(
        this.options.pipelines.map((p) =>
          this.options.clients.use(p, (client) => pipelineOverview(client, p)).catch((error: unknown) => unreachable(p, error)),
        ),
      );
      return sendJson(response, 200, { pipelines, now: Date.now() });
    }
    const match = /^\/api\/pipelines\/([^/]+)\/dead-letters(?:\/(replay|purge))?$/.exec(url.pathname);
    if (!match) throw new HttpError(404, 'no such API path (see docs/console.md)');
    const pipeline = this.byName.get(decodeURIComponent(match[1] as string));
    if (!pipeline) throw new HttpError(404, `no pipeline named ${JSON.stringify(decodeURIComponent(match[1] as string))}`);
    const action = match[2];
    if (!action) {
      if (method !== 'GET') throw new HttpError(405, 'use GET');
      const limit = Number(url.searchParams.get('limit') ?? 25);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE)
        throw new HttpError(400, `limit must be a whole number from 1 to ${MAX_PAGE}`);
      const query = { reason: url.searchParams.get('reason') || undefined, cursor: url.searchParams.get('cursor') || undefined, limit };
      return sendJson(response, 200, await this.options.clients.use(pipeline, (client) => readPage(client, pipeline, query)));
    }
    // Changes: POST only, JSON only (a form cannot send it cross-site), with the page's CSRF token.
    if (method !== 'POST') throw new HttpError(405, 'changes are POST requests');
    if (!/^application\/json\b/i.test(request.headers['content-type'] ?? ''))
      throw new HttpError(415, 'send Content-Type: application/json');
    if (!this.auth.csrfOk(request, how)) throw new HttpError(403, 'missing or wrong X-CSRF-Token (GET /api/session gives it)');
    const selection = parseSelection(await readBody(request));
    const result = await this.options.clients.use(pipeline, (client) =>
      action === 'replay' ? replaySelection(client, pipeline, selection) : purgeSelection(client, pipeline, selection),
    );
    return sendJson(response, 200, result);
  }

  private async login(request: IncomingMessage, response: ServerResponse, method: string): Promise<void> {
    if (!this.auth.required) {
      response.writeHead(303, { Location: '/' }).end();
      return;
    }
    if (method === 'POST') {
      const form = new URLSearchParams((await readBody(request)).toString('utf8'));
      const cookie = this.auth.login(form.get('token') ?? '');
      if (cookie) {
        response.writeHead(303, { Location: '/', 'Set-Cookie': cookie }).end();
        return;
      }
      return sendHtml(response, 401, loginPage("That token is not the console's token."));
    }
    return sendHtml(response, 200, loginPage());
  }

  private page(response: ServerResponse): void {
    const html = (this.assets.get('/assets/index.html') as { body: Buffer }).body.toString('utf8').replace('{{csrf}}', this.auth.csrf);
    sendHtml(response, 200, html);
  }

  private asset(response: ServerResponse, pathname: string): void {
    const asset = this.assets.get(pathname);
    if (!asset) throw new HttpError(404, 'not found');
    response
      .writeHead(200, { 'Content-Type': asset.type, 'Content-Length': asset.body.length, 'Cache-Control': 'no-cache' })
      .end(asset.body);
  }
}

function unreachable(pipeline: LoadedPipeline, error: unknown): object {
  return {
    name: pipeline.config.name,
    error: scrubSecrets((error as Error).message),
    stuck: [`cannot read Redis: ${scrubSecrets((error as Error).message)}`],
    workers: [],
    recoverable: [],
  };
}

/** `{"ids": [...]}`, `{"reason": "..."}` or `{"all": true}`, exactly one. */
export function parseSelection(body: Buffer): Selection {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
  const given = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  const keys = Object.keys(given);
  if (keys.length !== 1) throw new HttpError(400, 'send exactly one of {"ids": [...]}, {"reason": "..."}, {"all": true}');
  if (
    Array.isArray(given.ids) &&
    given.ids.length > 0 &&
    given.ids.length <= MAX_IDS &&
    given.ids.every((id) => typeof id === 'string' && id.length > 0 && id.length <= 200)
  )
    return { ids: given.ids as string[] };
  if (typeof given.reason === 'string' && given.reason.length > 0 && given.reason.length <= 100) return { reason: given.reason };
  if (given.all === true) return { all: true };
  throw new HttpError(400, `send exactly one of {"ids": [...]} (1 to ${MAX_IDS} ids), {"reason": "..."}, {"all": true}`);
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) return reject(new HttpError(413, `the body is larger than ${MAX_BODY_BYTES} bytes`));
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        request.destroy();
        reject(new HttpError(413, `the body is larger than ${MAX_BODY_BYTES} bytes`));
      } else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) }).end(text);
}

function sendHtml(response: ServerResponse, status: number, html: string): void {
  response
    .writeHead(status, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(html),
      'Cache-Control': 'no-store',
    })
    .end(html);
}

function loginPage(problem = ''): string {
  const note = problem ? `<p class="problem">${problem}</p>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Pythia console: log in</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/assets/style.css"></head>
<body class="login"><form method="post" action="/login"><h1>Pythia console</h1>${note}<label>Token <input type="password" name="token" autocomplete="current-password" autofocus></label><button type="submit">Log in</button></form></body></html>`;
}
