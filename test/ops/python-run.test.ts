// `pythia run` (a real process) on pipelines/python-tasks.yml as a drop-in for a Python Pythia list
// worker: a list fed by RPUSH of Python-format envelopes, with LPUSHed priority messages, is processed
// in Python Pythia's order with bodies, headers and ids as Python sent them; the results go out in the
// same envelope and real Python reads them back.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { exited, ROOT, SUPPORT, spawnWorker } from '../helpers/pipelines.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { waitFor } from '../helpers/wait.ts';

const EXAMPLE = path.join(ROOT, 'pipelines/python-tasks.yml');
const PYTHON_WIRE = path.join(SUPPORT, 'python/pythia_wire.py');

type Task = { task: string; headers: Record<string, string>; body: unknown };
type PythonSees = { body: Task; headers: unknown; message_id: unknown };

/** Six sends of a Python producer: four send(), then two send(priority=True). */
const SPECS = [
  { body: { order: 1, customer: 'Zoë', lines: [{ sku: 'ü-1', qty: 2 }] }, headers: { tenant: 'acme' }, message_id: 'o-1' },
  { body: { order: 2, nested: { a: { b: [1, 2.5, null, true] } } } },
  { body: '{"order": 3}', headers: { trace: '00-ab-cd-01' }, message_id: 'o-3' },
  { body: { order: 4, note: '日本語 ✓' }, headers: { tenant: 'acme' }, message_id: 'o-4', message_object: true },
  { body: { order: 91 }, headers: { lane: 'fast' }, message_id: 'p-1', priority: true },
  { body: { order: 92 }, headers: { lane: 'fast' }, message_id: 'p-2', priority: true },
];

/** The same sends as the exact bytes Python's json.dumps(..., ensure_ascii=False) writes for them. */
const BYTES: [push: 'rpush' | 'lpush', payload: string][] = [
  [
    'rpush',
    '{"body": {"order": 1, "customer": "Zoë", "lines": [{"sku": "ü-1", "qty": 2}]}, "headers": {"tenant": "acme"}, "message_id": "o-1"}',
  ],
  ['rpush', '{"body": {"order": 2, "nested": {"a": {"b": [1, 2.5, null, true]}}}, "headers": {}, "message_id": null}'],
  ['rpush', '{"body": "{\\"order\\": 3}", "headers": {"trace": "00-ab-cd-01"}, "message_id": "o-3"}'],
  [
    'rpush',
    '{"body": {"order": 4, "note": "日本語 ✓"}, "headers": {"tenant": "acme"}, "message_id": "o-4", "timestamp": "2025-01-02T03:04:05.678901"}',
  ],
  ['lpush', '{"body": {"order": 91}, "headers": {"lane": "fast"}, "message_id": "p-1"}'],
  ['lpush', '{"body": {"order": 92}, "headers": {"lane": "fast"}, "message_id": "p-2"}'],
];

function python(args: string[], input?: string): string {
  const result = spawnSync('python3', [PYTHON_WIRE, ...args], { input, encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

const pythonHasRedis = spawnSync('python3', ['-c', 'import redis'], { encoding: 'utf8' }).status === 0;

describe('pythia run as a drop-in consumer for Python Pythia producers (pipelines/python-tasks.yml)', () => {
  const redis = usePrivateRedis();

  /** Runs the example over `queue` until it has written `n` results; returns what a Python consumer reads of them. */
  async function run(queue: string, n: number): Promise<PythonSees[]> {
    const results = `${queue}:results`;
    const worker = spawnWorker(
      [EXAMPLE],
      { PYTHON_QUEUE: queue, PYTHON_RESULTS: results, PYTHIA_MAX_CONCURRENT: '1', PYTHIA_METRICS_PORT: '0' },
      ['--redis-url', redis.server.url],
    );
    try {
      await waitFor(`${n} results in ${results}`, () => redis.client.llen(results), { until: (count) => count >= n, timeoutMs: 60_000 });
    } finally {
      worker.kill('SIGTERM');
      assert.equal(await exited(worker), 0, worker.output());
    }
    assert.equal(await redis.client.llen(queue), 0);
    return python([String(redis.server.port), 'consume', results, String(n)])
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as PythonSees);
  }

  function assertPythonOrder(seen: PythonSees[]): void {
    const tasks = seen.map((s) => s.body);
    assert.deepEqual(
      tasks.map((t) => (t.body as { order: number }).order),
      [92, 91, 1, 2, 3, 4],
      'priority messages first (the last sent first), then FIFO',
    );
    assert.deepEqual(tasks[0], { task: 'p-2', headers: { lane: 'fast' }, body: { order: 92 } });
    assert.deepEqual(tasks[2], {
      task: 'o-1',
      headers: { tenant: 'acme' },
      body: { order: 1, customer: 'Zoë', lines: [{ sku: 'ü-1', qty: 2 }] },
    });
    assert.deepEqual(tasks[3]?.body, { order: 2, nested: { a: { b: [1, 2.5, null, true] } } });
    assert.deepEqual(tasks[3]?.headers, {});
    assert.match(tasks[3]?.task ?? '', /:\d+$/, 'sent without a message_id: the worker names it');
    assert.deepEqual(tasks[4], { task: 'o-3', headers: { trace: '00-ab-cd-01' }, body: { order: 3 } });
    assert.deepEqual(tasks[5], { task: 'o-4', headers: { tenant: 'acme' }, body: { order: 4, note: '日本語 ✓' } });
    for (const s of seen) assert.deepEqual([s.headers, s.message_id], [{}, null], 'results are envelopes a Python consumer reads');
  }

  it('the exact bytes Python Pythia writes, RPUSHed and LPUSHed', async () => {
    const queue = 'py:bytes';
    for (const [push, payload] of BYTES) await redis.client[push](queue, payload);
    assertPythonOrder(await run(queue, BYTES.length));
  });

  it("the bytes real Python's json.dumps makes, pushed by a Python process", async () => {
    const queue = 'py:python';
    // The helper and the hand-written bytes agree: the test above is about what Python really writes.
    const envelopes = python(['0', 'envelope', '-'], SPECS.map((s) => JSON.stringify(s)).join('\n'))
      .trim()
      .split('\n');
    assert.deepEqual(
      envelopes,
      BYTES.map(([, payload]) => payload),
    );
    python([String(redis.server.port), 'produce', queue], SPECS.map((s) => JSON.stringify(s)).join('\n'));
    assertPythonOrder(await run(queue, SPECS.length));
  });

  it(
    'a producer using the redis Python package',
    { skip: pythonHasRedis ? false : 'the redis Python package is not importable here (PyPI is not reachable to install it)' },
    async () => {
      const queue = 'py:redis-py';
      python([String(redis.server.port), 'produce', queue, '--redis-py'], SPECS.map((s) => JSON.stringify(s)).join('\n'));
      assertPythonOrder(await run(queue, SPECS.length));
    },
  );
});
