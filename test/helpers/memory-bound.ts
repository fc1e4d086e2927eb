import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { exited, spawnWorker } from './pipelines.ts';
import { waitFor } from '../../src/testing/index.ts';
import { usePrivateRedis } from './private-redis.ts';

const children: ReturnType<typeof spawnWorker>[] = [];
const redis = usePrivateRedis({
  cleanup: () => children.forEach((c) => c.kill('SIGKILL')),
});

/** Peak resident set of a process, in MB (VmHWM). */
function peakRssMb(pid: number): number {
  const line =
    readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmHWM:')) ?? '';
  return Number(line.replace(/\D+/g, '')) / 1024;
}

const MB = 1024 * 1024;

export const MEMORY_BOUND_SOURCES: Record<string, { source: string; stream: boolean }> = {
  'an at-least-once list': {
    source: 'list: {key: "q:big", batch_size: 100, block_timeout_ms: 100}',
    stream: false,
  },
  'an at-most-once list': {
    source: 'list: {key: "q:big", delivery: at-most-once, batch_size: 100, block_timeout_ms: 100}',
    stream: false,
  },
  'a stream': {
    source: 'stream: {key: "q:big", consumer_group: g, batch_size: 100, block_timeout_ms: 100}',
    stream: true,
  },
};

/** One test file per source kind: each run moves 400 MB through Redis and takes about a minute. */
export function describeMemoryBound(kind: keyof typeof MEMORY_BOUND_SOURCES): void {
  describe('memory is bounded by configuration, not by payload sizes', () => {
    const { source, stream } = MEMORY_BOUND_SOURCES[kind] as {
      source: string;
      stream: boolean;
    };
    {
      it(
        `${kind}: 40 payloads of 10 MB against max_bytes 1 MiB at concurrency 10: dead-lettered whole, one at a time; the worker stays small`,
        { skip: process.platform !== 'linux' && 'reads /proc' },
        async (t) => {
          await redis.client.flushall();
          const file = redis.dir.write(
            'big',
            `name: big\nredis: {url: "${redis.server.url}"}\nmetrics: {enabled: false}
source: {${source}}
message: {format: binary, max_bytes: ${MB}}
concurrency: 10
handler: {module: "{{support}}/handlers/record.mjs"}
output: {list: "big:out"}`,
          );
          // The group exists before the probe is added (a group the worker creates starts at the end).
          if (stream) await redis.client.xgroup('CREATE', 'q:big', 'g', '0', 'MKSTREAM');
          const child = spawnWorker([file]);
          children.push(child);
          t.after(() => void (child.exitCode === null && child.kill('SIGKILL')));
          const send = async (...payloads: (Buffer | string)[]): Promise<void> => {
            if (!stream) {
              // One command: the worker finds a backlog (the fetch script's path), not one item at a time.
              await redis.client.lpush('q:big', ...payloads);
              return;
            }
            const pipeline = redis.client.pipeline();
            for (const payload of payloads) pipeline.xadd('q:big', '*', 'body', payload);
            await pipeline.exec();
          };
          await send('probe');
          await waitFor(
            () => `the probe handled; worker log: ${child.output()}`,
            async () => (await redis.client.llen('big:out')) === 1,
          );
          await new Promise((r) => setTimeout(r, 500));
          const idle = peakRssMb(child.pid as number);
          const big = Array.from({ length: 40 }, (_, i) => Buffer.concat([Buffer.from([i]), randomBytes(10 * MB - 1)]));
          await send(...big, 'small');
          await waitFor(
            () => `40 dead letters and the small message handled (dead letters, handled below); worker log: ${child.output()}`,
            async () => ({ dead: await redis.client.llen('q:big:dead'), handled: await redis.client.llen('big:out') }),
            { timeoutMs: 180_000, until: (n) => n.dead === 40 && n.handled === 2 },
          );
          const peak = peakRssMb(child.pid as number);
          t.diagnostic(`${kind}: worker peak RSS ${peak.toFixed(0)} MB, ${idle.toFixed(0)} MB before the payloads arrived`);
          const stored = (await redis.client.lrangeBuffer('q:big:dead', 0, -1)).map(
            (e) => JSON.parse(e.toString()) as { payload: string; reason: string },
          );
          assert.ok(
            stored.every((e) => e.reason === 'too_large'),
            'every dead letter says too_large',
          );
          const payloads = stored.map((e) => Buffer.from(e.payload, 'base64'));
          assert.deepEqual(
            payloads.map((b) => b[0]).sort((a, b) => (a ?? 0) - (b ?? 0)),
            big.map((b) => b[0]),
            'every payload dead-lettered',
          );
          assert.ok(
            payloads.every((b) => b.equals(big[b[0] as number] as Buffer)),
            'whole, byte for byte',
          );
          // Nothing left behind: no oversized item set aside, no stream entry pending.
          assert.deepEqual(await redis.client.keys('{q:big}:oversized*'), []);
          if (stream) assert.equal(((await redis.client.xpending('q:big', 'g')) as [number])[0], 0);
          // Before: every fetched payload came into the worker (1.04 GB for a list). Now: one oversized payload at a time.
          // A stream's dead letter of a binary body holds it twice (payload, raw_fields; its lossy text is left
          // out of fields since that took it from 620 MB above idle and 176 s to ~306 MB and 73 s): a looser bound.
          const bound = stream ? 500 : 250;
          assert.ok(peak - idle < bound, `peak RSS ${peak.toFixed(0)} MB, ${idle.toFixed(0)} MB idle`);
          child.kill('SIGTERM');
          assert.equal(await exited(child), 0);
        },
      );
    }
  });
}
