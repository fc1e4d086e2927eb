import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What /readyz reports: ready is the verdict, the rest says why (for humans and probes' logs). */
export interface HealthReport {
  ready: boolean;
  draining: boolean;
  pipelines: { name: string; state: string; redis: 'connected' | 'disconnected' }[];
}

export interface MetricsServerOptions {
  host: string;
  /** 0: any free port; read the bound one from `port` after listen(). */
  port: number;
  /** Path of the metrics endpoint, e.g. /metrics. */
  path: string;
  scrape: () => Promise<string>;
  contentType: string;
  health: () => HealthReport;
}

/**
 * The one HTTP server of a process: the metrics path, /livez (200 while the process can answer)
 * and /readyz (200 only when every pipeline consumes and its Redis connections are up; 503 before,
 * and while draining). node:http only: no framework on a probe path.
 */
export class MetricsServer {
  private readonly server: Server;
  private bound: AddressInfo | undefined;

  constructor(private readonly options: MetricsServerOptions) {
    this.server = createServer((request, response) => void this.handle(request, response));
    // Probes and scrapers keep connections alive; they must not hold close() open.
    this.server.keepAliveTimeout = 5000;
  }

  /** Resolves once listening; rejects with a clear message when the address is taken. */
  listen(): Promise<this> {
    const { host, port } = this.options;
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        const why =
          error.code === 'EADDRINUSE' ? 'the address is already in use' : error.code === 'EACCES' ? 'permission denied' : error.message;
        reject(
          new Error(
            `metrics server cannot listen on ${host}:${port}: ${why} (set metrics.port to a free port, 0 for any, or metrics.enabled: false)`,
            { cause: error },
          ),
        );
      };
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        this.bound = this.server.address() as AddressInfo;
        resolve(this);
      });
    });
  }

  /** The bound port (the real one when metrics.port is 0). */
  get port(): number {
    return this.bound?.port ?? 0;
  }

  get host(): string {
    return this.options.host;
  }

  /** http://host:port, with a wildcard host replaced by the loopback address, for clients. */
  get url(): string {
    const host = this.options.host === '0.0.0.0' || this.options.host === '::' ? '127.0.0.1' : this.options.host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  get path(): string {
    return this.options.path;
  }

  close(): Promise<void> {
    if (!this.server.listening) return Promise.resolve();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
    try {
      if (path === this.options.path) {
        const body = await this.options.scrape();
        return send(response, 200, body, { 'content-type': this.options.contentType });
      }
      if (path === '/livez') return send(response, 200, 'ok\n');
      if (path === '/readyz') {
        const report = this.options.health();
        return send(response, report.ready ? 200 : 503, `${JSON.stringify(report)}\n`, { 'content-type': 'application/json' });
      }
      return send(response, 404, 'not found: try /livez, /readyz or ' + this.options.path + '\n');
    } catch (error) {
      return send(response, 500, `${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
}

function send(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
