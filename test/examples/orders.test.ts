// How a handler author tests the shipped orders pipeline (pipelines/orders.yml): a private
// redis-server, real messages in, real results and dead letters out. No mocks.
// In your project: import { PipelineHarness } from 'pythia-worker/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PipelineHarness } from '../../src/testing/index.ts';

describe('example: testing the orders pipeline with pythia-worker/testing', () => {
  let h: PipelineHarness;
  before(async () => {
    h = await PipelineHarness.start('pipelines/orders.yml');
  });
  after(() => h.stop());

  it('processes orders and writes the handler results to the output stream', async () => {
    await h.push([
      { id: 1, amount: 10 },
      { id: 2, amount: 25.5, currency: 'USD' },
    ]);
    const done = await h.results<{ order: number; charged: number; currency: string }>(2);
    assert.deepEqual(
      done.map((r) => [r.order, r.charged, r.currency]),
      [
        [1, 10, 'EUR'],
        [2, 25.5, 'USD'],
      ],
    );
  });

  it('an order that breaks the message schema goes to the dead letter, with the reason', async () => {
    await h.push({ id: 3, amount: -5 });
    const [dead] = await h.deadLetters(1);
    assert.equal(dead?.reason, 'schema_invalid');
    assert.deepEqual(dead?.body, { id: 3, amount: -5 });
    assert.equal(dead?.pipeline, 'orders');
  });
});
