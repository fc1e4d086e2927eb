import type { LoadedPipeline } from '../../src/config/index.ts';
import { DEFAULT_BODY, renderBodies } from '../../src/cli/produce.ts';
import { Producer } from '../../src/producer/producer.ts';

/** Sends `count` bodies (ids from 1; by default {id, amount, produced_at}) to the pipeline's source, as `pythia produce` does. */
export async function produceSequence(pipeline: LoadedPipeline, count: number, template = DEFAULT_BODY): Promise<void> {
  const producer = Producer.forPipeline(pipeline);
  try {
    await producer.sendMany(renderBodies(template, 1, count).map((body) => ({ body })));
  } finally {
    await producer.close();
  }
}
