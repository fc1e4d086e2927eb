// Runs one message through a pipeline with tracing on or off (TRACING=true|false), on a private
// redis-server, with load-hooks.mjs recording what of OpenTelemetry gets imported.
import { loadPipelineText } from '../../../src/config/index.ts';
import { Producer } from '../../../src/producer/producer.ts';
import { createLogger } from '../../../src/runtime/logger.ts';
import { Worker } from '../../../src/runtime/worker.ts';
import { startRedis } from '../../../src/testing/redis-server.ts';

const redis = await startRedis();
const handler = new URL('../handlers/headers.mjs', import.meta.url).pathname;
const yaml = `version: 1
name: probe
redis: {url: "${redis.url}"}
source: {list: {key: q}}
handler: {module: "${handler}"}
output: {list: out}
tracing: {enabled: ${process.env.TRACING === 'true'}, endpoint: "http://127.0.0.1:9"}
`;
const loaded = await loadPipelineText(new URL('probe.yml', import.meta.url).pathname, yaml);
if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
const worker = await Worker.start([loaded.pipeline], { logger: createLogger('silent') });
const producer = Producer.connect({ redis: redis.url, target: { list: 'q' } });
const client = redis.client();
try {
  await producer.send({ id: 1 }, { headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } });
  while ((await client.llen('out')) < 1) await new Promise((resolve) => setTimeout(resolve, 20));
} finally {
  await producer.close();
  await worker.stop(0);
  client.disconnect();
  await redis.stop();
}
