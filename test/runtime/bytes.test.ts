import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { dlqReplayCommand } from '../../src/cli/dlq.ts';
import { loadPipelines } from '../../src/config/index.ts';
import type { DeadLetterEntry } from '../../src/outputs/dead-letter.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { waitFor } from '../../src/testing/index.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { captured } from '../resilience/helpers.ts';

const quiet = createLogger('silent');
const redis = usePrivateRedis({ exportUrl: true });
const flag = globalThis as { __pythiaRejectBytes?: boolean };

/** Random payloads, always including bytes that are not UTF-8 and NULs; no two alike. */
function payloads(n: number): Buffer[] {
  return [
    Buffer.from([0xff, 0xfe, 0x00, 0x41]),
    ...Array.from({ length: n - 1 }, (_, i) => Buffer.concat([randomBytes(1 + ((i * 37) % 300)), Buffer.from([i & 0xff, 0xc3])])),
  ];
}

const hex = (items: Buffer[]) => items.map((b) => b.toString('hex')).sort();

function yaml(name: string, source: string, deadLetter = ''): string {
  return `name: ${name}
redis: {url: "\${REDIS_URL}"}
metrics: {enabled: false}
source: {${source}}
message: {format: binary}
handler: {module: "{{support}}/handlers/bytes.mjs"}
resilience: {max_retries: 0, circuit_breaker: {enabled: false}}
output: {list: "${name}:out"}
${deadLetter}`;
}

describe('bytes are bytes on every path', () => {
  it('list (both modes, both fetch branches), stream fields, dead letters and replay keep payloads byte for byte', async () => {
    const { client, dir } = redis;
    const files = {
      alo: dir.write('alo', yaml('alo', 'list: {key: "b:alo", block_timeout_ms: 300}')),
      amo: dir.write('amo', yaml('amo', 'list: {key: "b:amo", delivery: at-most-once, block_timeout_ms: 300}')),
      stream: dir.write(
        'stream',
        yaml('stream', 'stream: {key: "b:stream", start_id: "0", block_timeout_ms: 300}', 'dead_letter: {stream: {key: "b:stream:dead"}}'),
      ),
    };
    const pipelines = await loadPipelines(Object.values(files));
    flag.__pythiaRejectBytes = false;
    const worker = await Worker.start(pipelines, { logger: quiet });
    const out = (name: string) => client.lrangeBuffer(`${name}:out`, 0, -1);
    try {
      // The blocking branch: the workers wait on empty lists, so these arrive through BLMOVE / BLMPOP.
      await new Promise((r) => setTimeout(r, 400));
      const first = { alo: payloads(30), amo: payloads(30) };
      await client.lpush('b:alo', ...first.alo);
      await client.lpush('b:amo', ...first.amo);
      await waitFor(
        "(await out('alo')).length === 30 && (await out('amo')).length === 30",
        async () => (await out('alo')).length === 30 && (await out('amo')).length === 30,
      );
      // The batched branch: a backlog taken by the fetch script / RPOP.
      const second = { alo: payloads(200), amo: payloads(200) };
      await client.lpush('b:alo', ...second.alo);
      await client.lpush('b:amo', ...second.amo);
      await waitFor(
        "(await out('alo')).length === 230 && (await out('amo')).length === 230",
        async () => (await out('alo')).length === 230 && (await out('amo')).length === 230,
      );
      assert.deepEqual(hex(await out('alo')), hex([...first.alo, ...second.alo]), 'list at-least-once');
      assert.deepEqual(hex(await out('amo')), hex([...first.amo, ...second.amo]), 'list at-most-once');

      // Streams: a body and other fields with bytes that are not UTF-8, and a field name used twice.
      const entries: Buffer[][] = payloads(40).map((body, i) =>
        i % 4 === 0
          ? [Buffer.from('body'), randomBytes(9), Buffer.from('body'), body, Buffer.from([0xff]), Buffer.from([0xfe, 0x00])]
          : [Buffer.from('body'), body, Buffer.from('n'), randomBytes(5)],
      );
      for (const fields of entries) await client.xadd('b:stream', '*', ...fields);
      await waitFor("(await out('stream')).length === 40", async () => (await out('stream')).length === 40);
      assert.deepEqual(
        hex(await out('stream')),
        hex(entries.map((f) => f[f.length === 6 ? 3 : 1] as Buffer)),
        'stream: the (last) body field',
      );

      // Dead letters, then replay.
      flag.__pythiaRejectBytes = true;
      const dead = payloads(50);
      await client.lpush('b:alo', ...dead);
      const deadEntries: Buffer[][] = dead
        .slice(0, 20)
        .map((body, i) =>
          i % 2 === 0
            ? [Buffer.from('body'), body, Buffer.from('body'), Buffer.from([0xff, i])]
            : [Buffer.from([0xc3, 0x28]), body, Buffer.from('body'), body],
        );
      const deadIds: string[] = [];
      for (const fields of deadEntries) deadIds.push((await client.xadd('b:stream', '*', ...fields)) as string);
      await waitFor(
        '50 list and 20 stream dead letters',
        async () => (await client.llen('b:alo:dead')) === 50 && (await client.xlen('b:stream:dead')) === 20,
      );
      const listDead = (await client.lrange('b:alo:dead', 0, -1)).map((r) => JSON.parse(r) as DeadLetterEntry);
      assert.deepEqual(
        hex(listDead.map((e) => Buffer.from(e.payload, e.payload_encoding === 'base64' ? 'base64' : 'utf8'))),
        hex(dead),
        'list dead letter payloads',
      );
      const streamDead = await client.xrangeBuffer('b:stream:dead', '-', '+');
      // Dead letters are written as each message fails, concurrently: compare as a set of entries, each with
      // its fields in their order.
      const inOrder = (fields: Buffer[]) => fields.map((b) => b.toString('hex')).join(' ');
      const deadLetters = streamDead.map(([, flat]) => JSON.parse(String(flat[1])) as DeadLetterEntry);
      assert.deepEqual(
        deadLetters.map((entry) => inOrder((entry.raw_fields ?? []).map((b) => Buffer.from(b, 'base64')))).sort(),
        deadEntries.map(inOrder).sort(),
        'stream dead letters keep every field, in order',
      );
      for (const entry of deadLetters) {
        // A field that is not text is only in raw_fields, never as lossy text (U+FFFD) in fields.
        for (const [name, value] of Object.entries(entry.fields ?? {}))
          assert.ok(!`${name}${value}`.includes('\ufffd'), `fields.${name} is exact text`);
      }

      flag.__pythiaRejectBytes = false;
      const io = captured();
      assert.equal(await dlqReplayCommand(files.alo, { all: true }, io), 0, io.stderr);
      assert.equal(await dlqReplayCommand(files.stream, { all: true }, io), 0, io.stderr);
      await waitFor(
        () => io.stderr,
        async () => (await out('alo')).length === 280 && (await out('stream')).length === 60,
      );
      assert.deepEqual(hex((await out('alo')).slice(0, 50)), hex(dead), 'replayed list payloads');
      const replayed = (await client.xrangeBuffer('b:stream', `(${deadIds[deadIds.length - 1]}`, '+')).map(([, flat]) => flat);
      // Replayed in dead-letter order (see above): as a set of entries, each byte for byte in its field order.
      assert.deepEqual(
        replayed.map(inOrder).sort(),
        deadEntries.map(inOrder).sort(),
        'replayed stream entries carry the original fields, byte for byte',
      );
    } finally {
      await worker.stop();
    }
  });
});
