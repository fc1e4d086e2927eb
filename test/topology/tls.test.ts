import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { planConnection } from '../../src/redis/connection.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { produceSequence } from '../helpers/produce.ts';
import { Worker } from '../../src/runtime/worker.ts';
import {
  makeCertificates,
  startTlsRedis,
  tlsUnsupportedReason,
  type TestCertificates,
  type TlsRedisServer,
} from '../../src/testing/tls.ts';
import { handled } from './handlers/record.ts';
import { duplicates, PipelineFiles, RECORD_HANDLER } from './support.ts';
import { waitFor } from '../helpers/wait.ts';

const quiet = createLogger('silent');
const skip = tlsUnsupportedReason();

const yaml = (name: string, redis: string, key: string) => `
version: 1
name: ${name}
redis:
${redis}
source:
  list: {key: ${key}, batch_size: 50}
handler: {module: "${RECORD_HANDLER}", export: handle}
concurrency: 8
metrics: {enabled: false}
shutdown: {grace_period_ms: 5000}
`;

/** The first connection error of a client made from a pipeline's redis section (it retries forever, so it is stopped here). */
async function firstError(loaded: Awaited<ReturnType<PipelineFiles['load']>>): Promise<string> {
  const client = planConnection(loaded.config.redis, loaded.dir, loaded.config.name).create('probe');
  try {
    return await new Promise<string>((resolve) => {
      client.once('error', (error: Error) => resolve(error.message));
      client.once('ready', () => resolve('connected'));
    });
  } finally {
    client.disconnect();
  }
}

describe('TLS: a self-signed CA made with openssl at test time', { skip, timeout: 60_000 }, () => {
  let certs: TestCertificates;
  let server: TlsRedisServer;
  let mutual: TlsRedisServer;
  const files = new PipelineFiles();
  before(async () => {
    certs = makeCertificates();
    [server, mutual] = await Promise.all([startTlsRedis(certs, { authClients: 'no' }), startTlsRedis(certs, { authClients: 'yes' })]);
  });
  after(async () => {
    await Promise.all([server?.stop(), mutual?.stop()]);
    if (certs) rmSync(certs.dir, { recursive: true, force: true });
    files.remove();
  });

  async function runList(name: string, redis: string, key: string): Promise<void> {
    const loaded = await files.load(name, yaml(name, redis, key));
    await produceSequence(loaded, 300);
    const worker = await Worker.start([loaded], { logger: quiet });
    try {
      await waitFor(`the ${name} pipeline to handle every message`, () => handled(key).size >= 300, { timeoutMs: 15_000 });
    } finally {
      await worker.stop();
    }
    assert.deepEqual(duplicates(handled(key)), []);
  }

  it('rediss:// with tls.ca_file', async () => {
    await runList('tls-url', `  url: "${server.url}"\n  tls: {ca_file: "${certs.ca}"}`, 'tls-queue');
    assert.equal(await server.client().llen('tls-queue'), 0);
  });

  it('mutual TLS with tls.cert_file and tls.key_file (server started with --tls-auth-clients yes)', async () => {
    await runList(
      'tls-mutual',
      `  host: 127.0.0.1\n  port: ${mutual.port}\n  tls: {enabled: true, ca_file: "${certs.ca}", cert_file: "${certs.clientCert}", key_file: "${certs.clientKey}"}`,
      'mtls-queue',
    );
    // Without the client certificate the same server refuses the connection.
    const noCert = await files.load('tls-no-cert', yaml('tls-no-cert', `  url: "${mutual.url}"\n  tls: {ca_file: "${certs.ca}"}`, 'x'));
    assert.match(await firstError(noCert), /ECONNRESET|certificate|alert|hang up|closed/i);
  });

  it('a server certificate not signed by tls.ca_file is rejected; reject_unauthorized: false accepts it', async () => {
    const wrongCa = await files.load(
      'tls-wrong-ca',
      yaml('tls-wrong-ca', `  url: "${server.url}"\n  tls: {ca_file: "${certs.otherCa}"}`, 'x'),
    );
    assert.match(await firstError(wrongCa), /self.signed|unable to verify|certificate/i);
    const insecure = await files.load(
      'tls-insecure',
      yaml('tls-insecure', `  url: "${server.url}"\n  tls: {reject_unauthorized: false}`, 'x'),
    );
    assert.equal(await firstError(insecure), 'connected');
  });
});
