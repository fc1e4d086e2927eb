import { loadPipelines } from '../config/index.ts';
import { PipelineClients } from '../console/clients.ts';
import { ConsoleServer } from '../console/server.ts';

export interface ConsoleOptions {
  host: string;
  port: string;
  redisUrl?: string;
}

/** `pythia console FILE|DIR... [--host 127.0.0.1] [--port 9400]`: serves until SIGTERM/SIGINT. */
export async function consoleCommand(paths: string[], options: ConsoleOptions): Promise<number> {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`pythia console: --port must be a port number, got ${options.port}\n`);
    return 2;
  }
  const pipelines = await loadPipelines(paths, { importModules: false });
  if (pipelines.length === 0) {
    process.stderr.write('pythia console: no pipeline files found\n');
    return 1;
  }
  const clients = new PipelineClients(options.redisUrl);
  let server: ConsoleServer;
  try {
    server = await new ConsoleServer({
      host: options.host,
      port,
      token: process.env.PYTHIA_CONSOLE_TOKEN || undefined,
      pipelines,
      clients,
    }).listen();
  } catch (error) {
    process.stderr.write(`pythia console: ${(error as Error).message}\n`);
    await clients.close();
    return 2;
  }
  process.stderr.write(`pythia console: ${pipelines.length} pipeline(s) at ${server.url}/\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await server.close();
  await clients.close();
  return 0;
}
