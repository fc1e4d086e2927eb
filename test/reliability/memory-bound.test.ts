import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { exited, spawnWorker } from '../helpers/pipelines.ts';
import { waitFor } from '../../src/testing/index.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';

const children: ReturnType<typeof spawnWorker>[] = [];
const redis = usePrivateRedis({ cleanup: () => children.forEach((c) => c.kill('SIGKILL')) });

/** Peak resident set of a process, in MB (VmHWM). */
function peakRssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:')) ?? '';
  return Number(line.replace(/\D+/g, '')) / 1024;
}

const MB = 1024 * 1024;

describe('memory is bounded by configuration, not by payload sizes', () => {
  it('40 payloads of 10 MB against max_bytes 1 MiB at concurrency 10: dead-lettered whole, one at a time; the worker stays small', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
    const file = redis.dir.write(
      'big',
      `name: big\nredis: {url: "${redis.server.url}"}\nmetrics: {enabled: false}
source: {list: {key: "q:big", batch_size: 100, block_timeout_ms: 100}}
message: {format: binary, max_bytes: ${MB}}
concurrency: 10
handler: {module: "{{support}}/handlers/record.mjs"}
output: {list: "big:out"}`,
    );
    const child = spawnWorker([file]);
    children.push(child);
    await waitFor(() => `the worker's heartbeat; its log: ${child.output()}`, async () => (await redis.client.keys('{q:big}:heartbeat:*')).length === 1);
    await new Promise((r) => setTimeout(r, 500));
    const idle = peakRssMb(child.pid as number);
    const big = Array.from({ length: 40 }, (_, i) => Buffer.concat([Buffer.from([i]), randomBytes(10 * MB - 1)]));
    // One command: the worker finds a backlog (the fetch script's path), not one item at a time.
    await redis.client.lpush('q:big', ...big);
    await redis.client.lpush('q:big', 'small');
    await waitFor(() => `40 dead letters and the small message handled; worker log: ${child.output()}`, async () => (await redis.client.llen('q:big:dead')) === 40 && (await redis.client.llen('big:out')) === 1, { timeoutMs: 120_000 });
    const peak = peakRssMb(child.pid as number);
    t.diagnostic(`worker peak RSS ${peak.toFixed(0)} MB, ${idle.toFixed(0)} MB before the payloads arrived`);
    const stored = (await redis.client.lrangeBuffer('q:big:dead', 0, -1)).map((e) => Buffer.from((JSON.parse(e.toString()) as { payload: string }).payload, 'base64'));
    assert.deepEqual(stored.map((b) => b[0]).sort((a, b) => (a ?? 0) - (b ?? 0)), big.map((b) => b[0]), 'every payload dead-lettered');
    assert.ok(stored.every((b) => b.equals(big[b[0] as number] as Buffer)), 'whole, byte for byte');
    // Before: every fetched payload came into the worker (1.04 GB). Now: one oversized payload at a time.
    assert.ok(peak - idle < 250, `peak RSS ${peak.toFixed(0)} MB, ${idle.toFixed(0)} MB idle`);
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0);
  });
});
