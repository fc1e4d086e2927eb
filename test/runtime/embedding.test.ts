// Embedding: a Worker inside an application's own process, driven and observed through its API.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, startWorker, type MessageEvent } from '../../src/index.ts';
import { waitFor } from '../helpers/wait.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';

describe('embedding a Worker', () => {
  const redis = usePrivateRedis({ exportUrl: true });

  it('emits ready, a message event per outcome (with the dead-letter reason), breaker changes, draining and stopped', async () => {
    const file = redis.dir.write(
      'embedded',
      `
name: embedded
redis: {url: "\${REDIS_URL}"}
source: {list: {key: "q:embedded"}}
handler: {module: "{{support}}/handlers/record.mjs"}
resilience:
  max_retries: 1
  retry_delay_ms: 10
  circuit_breaker: {enabled: true, failure_threshold: 3, reset_timeout_ms: 200}
output: {list: "embedded:out"}
metrics: {enabled: false}
`,
    );
    const seen: string[] = [];
    const messages: MessageEvent[] = [];
    const breaker: string[] = [];
    const worker = await startWorker([file], {
      logger: createLogger('silent'),
      on: { ready: () => seen.push('ready'), draining: () => seen.push('draining'), stopped: () => seen.push('stopped') },
    });
    worker.on('message', (event) => messages.push(event));
    worker.on('breaker', (event) => breaker.push(`${event.pipeline}:${event.state}`));
    // A listener that throws is logged and ignored: the message is still processed.
    worker.on('message', () => {
      throw new Error('listener bug');
    });
    assert.deepEqual(seen, ['ready']);
    assert.equal(worker.ready, true);
    await redis.client.lpush(
      'q:embedded',
      JSON.stringify({ id: 1 }),
      JSON.stringify({ id: 2, fail: 'once' }),
      '{not json',
      JSON.stringify({ id: 3, fail: 'always' }),
      JSON.stringify({ id: 4, fail: 'always' }),
    );
    await waitFor(
      () => `five final outcomes in ${JSON.stringify(messages)}`,
      () => messages.filter((m) => m.outcome !== 'retried').length >= 5,
    );
    const count = (outcome: string, reason?: string) => messages.filter((m) => m.outcome === outcome && m.reason === reason).length;
    assert.equal(count('ok'), 2, 'ids 1 and 2');
    assert.equal(count('dead_lettered', 'invalid_json'), 1);
    assert.equal(count('dead_lettered', 'retries_exhausted'), 2, 'ids 3 and 4');
    assert.equal(count('retried'), 3, 'id 2 once, ids 3 and 4 once each');
    assert.ok(messages.every((m) => m.pipeline === 'embedded'));
    assert.ok(breaker.includes('embedded:open'), `the breaker opened after three failures in a row: ${breaker.join(' ')}`);
    assert.equal(await redis.client.llen('embedded:out'), 2);
    await worker.stop(1000);
    assert.deepEqual(seen, ['ready', 'draining', 'stopped']);
    assert.equal(worker.ready, false);
    await worker.stop(); // idempotent: no second draining/stopped
    assert.deepEqual(seen, ['ready', 'draining', 'stopped']);
  });
});
