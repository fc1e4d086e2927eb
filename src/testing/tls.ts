import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './redis-server.ts';
import { ServerProcess, oneShot } from './server-process.ts';

/** PEM files made by `makeCertificates`: a self-signed CA, a server and a client certificate. */
export interface TestCertificates {
  dir: string;
  ca: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A second CA that signed nothing here: a server checked against it must be rejected. */
  otherCa: string;
}

let unsupported: string | undefined | null = null;

/**
 * Why TLS tests cannot run here, or undefined when they can: openssl must be on the PATH and
 * redis-server must be built with TLS (BUILD_TLS=yes). A build without it rejects --tls-port as an
 * unknown directive; a build with it accepts `--tls-port 0 --port 0` and exits because it has
 * nothing to listen on.
 */
export function tlsUnsupportedReason(): string | undefined {
  if (unsupported !== null) return unsupported;
  const ssl = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  if (ssl.error || ssl.status !== 0)
    return (unsupported = 'openssl is not on the PATH: the TLS tests make their certificates with it at test time');
  const probe = spawnSync('redis-server', ['--port', '0', '--tls-port', '0', '--save', '', '--daemonize', 'no'], {
    encoding: 'utf8',
    timeout: 5000,
  });
  const output = `${probe.stdout}${probe.stderr}`;
  if (probe.error) return (unsupported = `redis-server could not be run: ${probe.error.message}`);
  if (/not listen anywhere/i.test(output)) return (unsupported = undefined);
  return (unsupported = `redis-server on this machine was built without TLS support (it rejects --tls-port: ${output.trim().split('\n').slice(-2).join(' ')}); build it with BUILD_TLS=yes or install a package with TLS to run the TLS tests`);
}

function openssl(args: string[], cwd: string): void {
  const run = spawnSync('openssl', args, { cwd, encoding: 'utf8', timeout: 20_000 });
  if (run.error || run.status !== 0)
    throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed: ${run.error?.message ?? run.stderr.trim()}`);
}

/** Makes a CA, a server certificate for 127.0.0.1/localhost and a client certificate, in a new temp dir (P-256 keys, valid 2 days). */
export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(path.join(tmpdir(), 'pythia-tls-'));
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', '-new', ...key, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Pythia Test CA'], dir);
  openssl(
    ['req', '-x509', '-new', ...key, '-keyout', 'other-ca.key', '-out', 'other-ca.crt', '-days', '2', '-subj', '/CN=Pythia Other CA'],
    dir,
  );
  writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, subject] of [
    ['server', '/CN=localhost'],
    ['client', '/CN=pythia-client'],
  ] as const) {
    openssl(['req', '-new', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.crt`,
        '-days',
        '2',
        '-extfile',
        `${name}.ext`,
      ],
      dir,
    );
  }
  const at = (file: string) => path.join(dir, file);
  return {
    dir,
    ca: at('ca.crt'),
    caKey: at('ca.key'),
    serverCert: at('server.crt'),
    serverKey: at('server.key'),
    clientCert: at('client.crt'),
    clientKey: at('client.key'),
    otherCa: at('other-ca.crt'),
  };
}

export interface TlsRedisOptions {
  /** --tls-auth-clients: "no" (server-side TLS only), "optional" or "yes" (mutual TLS). Default "no". */
  authClients?: 'no' | 'optional' | 'yes';
  args?: string[];
}

/**
 * A private redis-server that speaks only TLS (--port 0 --tls-port P), with the certificates from
 * `makeCertificates`. `url` is rediss://127.0.0.1:P/0.
 */
export class TlsRedisServer {
  readonly dir: string;
  port = 0;
  private process: ServerProcess | undefined;
  private readonly clients: Redis[] = [];

  constructor(
    readonly certs: TestCertificates,
    private readonly options: TlsRedisOptions = {},
  ) {
    this.dir = mkdtempSync(path.join(tmpdir(), 'pythia-redis-tls-'));
  }

  get url(): string {
    return `rediss://127.0.0.1:${this.port}/0`;
  }

  async start(): Promise<this> {
    this.port = await freePort();
    const log = path.join(this.dir, 'redis.log');
    const args = [
      '--port',
      '0',
      '--tls-port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--logfile',
      log,
      '--tls-cert-file',
      this.certs.serverCert,
      '--tls-key-file',
      this.certs.serverKey,
      '--tls-ca-cert-file',
      this.certs.ca,
      '--tls-auth-clients',
      this.options.authClients ?? 'no',
      ...(this.options.args ?? []),
    ];
    this.process = new ServerProcess(args, log, async () => {
      try {
        return (await oneShot({ port: this.port, tls: this.clientTls() }, (c) => c.ping())) === 'PONG';
      } catch {
        return false;
      }
    });
    await this.process.start();
    return this;
  }

  /** The TLS options of a client that trusts the CA and presents the client certificate. */
  clientTls(): { ca: Buffer; cert: Buffer; key: Buffer } {
    return { ca: readFileSync(this.certs.ca), cert: readFileSync(this.certs.clientCert), key: readFileSync(this.certs.clientKey) };
  }

  /** A TLS client (with the client certificate) for assertions; closed by stop(). */
  client(): Redis {
    const client = new Redis({ host: '127.0.0.1', port: this.port, tls: this.clientTls(), maxRetriesPerRequest: null });
    client.on('error', () => {});
    this.clients.push(client);
    return client;
  }

  async stop(): Promise<void> {
    for (const client of this.clients.splice(0)) client.disconnect();
    await this.process?.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startTlsRedis(certs: TestCertificates, options: TlsRedisOptions = {}): Promise<TlsRedisServer> {
  const server = new TlsRedisServer(certs, options);
  try {
    return await server.start();
  } catch (error) {
    await server.stop();
    throw error;
  }
}
