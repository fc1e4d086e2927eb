// Test handler: passes each message on to the pipeline file in PYTHIA_TEST_FORWARD_TO with a Producer
// that has tracing: true, from inside the handler (docs/tracing.md, "Continuing the trace downstream").
// The test calls close() when it is done.
import { Producer } from '../../../src/index.ts';

let producer;

export default async function forward(message) {
  producer ??= Producer.fromPipeline(process.env.PYTHIA_TEST_FORWARD_TO, { tracing: true });
  await (await producer).send(message.body);
}

export async function close() {
  if (producer) await (await producer).close();
}
