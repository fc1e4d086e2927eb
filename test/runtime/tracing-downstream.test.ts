// Continuing a trace in a downstream pipeline (docs/tracing.md): an output write carries no headers, so a
// handler that wants the next pipeline in its trace sends with a Producer that has tracing: true; its
// send span is a child of the active process span, and the downstream process span a child of it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Producer } from '../../src/producer/producer.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { pipelineYaml } from '../helpers/pipelines.ts';
import { waitFor } from '../helpers/wait.ts';
import { useTracingSuite } from '../helpers/tracing.ts';
import { close as closeForwarder } from '../support/handlers/forward.mjs';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

describe('tracing: downstream pipelines', () => {
  const { redis, receiver, load } = useTracingSuite();

  it('a handler that sends with a Producer (tracing: true) puts the downstream pipeline in its trace', async () => {
    const tracing = `tracing: {enabled: true, endpoint: "${receiver.url}", protocol: http/json}\n`;
    const downstream = redis.dir.write(
      'tdown2',
      pipelineYaml(
        'tdown2',
        { source: '{list: {key: "q:tdown2"}}', handler: '{module: "{{support}}/handlers/traced.mjs"}', output: '{list: "tdown2:out"}' },
        tracing,
      ),
    );
    const upstream = redis.dir.write(
      'tup',
      pipelineYaml('tup', { source: '{list: {key: "q:tup"}}', handler: '{module: "{{support}}/handlers/forward.mjs"}' }, tracing),
    );
    process.env.PYTHIA_TEST_FORWARD_TO = downstream;
    const worker = await Worker.start([await load(upstream), await load(downstream)], { logger: createLogger('silent') });
    try {
      const producer = await Producer.fromPipeline(upstream);
      await producer.send({ id: 1 }, { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } });
      await producer.close();
      await waitFor('the downstream output', async () => (await redis.client.llen('tdown2:out')) === 1);
    } finally {
      await closeForwarder();
      await worker.stop();
      delete process.env.PYTHIA_TEST_FORWARD_TO;
    }
    process.stdout.write(`${receiver.tree(TRACE)}\n`);
    const inTrace = receiver.spans.filter((s) => s.traceId === TRACE);
    const first = inTrace.find((s) => s.name === 'process q:tup');
    const send = inTrace.find((s) => s.name === 'send q:tdown2');
    const second = inTrace.find((s) => s.name === 'process q:tdown2');
    assert.ok(first && send && second, receiver.tree(TRACE));
    assert.equal(first.parentSpanId, PARENT);
    assert.equal(send.parentSpanId, first.spanId, 'the send span is a child of the upstream process span');
    assert.equal(second.parentSpanId, send.spanId, 'the downstream process span is a child of the send span');
    const result = JSON.parse((await redis.client.lindex('tdown2:out', 0)) as string) as { traceparent: string };
    assert.equal(result.traceparent, `00-${TRACE}-${second.spanId}-01`);
  });
});
