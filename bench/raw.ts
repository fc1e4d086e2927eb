import { Redis } from 'ioredis';
import { benchBody, type Kind, type Result } from './scenario.ts';
import { liveResult, prefill, runProducer } from './pythia.ts';
import { nowMs, rssSampler } from './stats.ts';

const MOVE = `local items = redis.call('RPOP', KEYS[1], ARGV[1])
if not items then return {} end
redis.call('LPUSH', KEYS[2], unpack(items))
return items`;

/**
 * The baseline: a plain ioredis loop of the same delivery mode, 100 messages per round trip, each
 * message JSON-parsed (no handler, no retries, no metrics). This is the ceiling Pythia is compared to.
 */
export async function rawDrain(kind: Kind, url: string, n: number, run: number): Promise<Result> {
  const key = `bench:raw-${kind}-${run}`;
  const client = new Redis(url);
  const acker = new Redis(url, { enableAutoPipelining: true });
  client.defineCommand('benchMove', { numberOfKeys: 2, lua: MOVE });
  let processed = 0;
  // Acks are not awaited inside the loop (that is the point), but all of them before the clients quit:
  // QUIT skips ioredis' auto-pipeline and would overtake them.
  const acks: Promise<unknown>[] = [];
  const peak = rssSampler();
  let cpu0: NodeJS.CpuUsage;
  let t0: number;
  if (kind === 'channel') {
    const subscriber = new Redis(url);
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    subscriber.on('messageBuffer', (_channel: Buffer, payload: Buffer) => {
      JSON.parse(payload.toString());
      if (++processed >= n) resolve();
    });
    await subscriber.subscribe(key);
    cpu0 = process.cpuUsage();
    t0 = performance.now();
    for (let i = 0; i < n; i += 1000) {
      const pipe = client.pipeline();
      for (let j = i; j < Math.min(n, i + 1000); j++) pipe.publish(key, benchBody(j));
      await pipe.exec();
    }
    await Promise.race([done, new Promise((r) => setTimeout(r, 30_000))]);
    subscriber.disconnect();
  } else {
    await prefill(kind, client, key, n);
    if (kind === 'stream') await client.xgroup('CREATE', key, 'raw', '0');
    cpu0 = process.cpuUsage();
    t0 = performance.now();
    while (processed < n) {
      if (kind === 'list-amo') {
        const items = (await client.rpopBuffer(key, 100)) as Buffer[] | null;
        for (const item of items ?? []) JSON.parse(item.toString());
        processed += items?.length ?? 0;
      } else if (kind === 'list-alo') {
        const processing = `{${key}}:processing:raw`;
        const items =
          (await (client as unknown as { benchMoveBuffer(a: string, b: string, c: number): Promise<Buffer[]> }).benchMoveBuffer(
            key,
            processing,
            100,
          )) ?? [];
        for (const item of items) JSON.parse(item.toString());
        acks.push(acker.del(processing));
        processed += items.length;
      } else {
        const reply = (await client.xreadgroupBuffer('GROUP', 'raw', 'c', 'COUNT', 100, 'STREAMS', key, '>')) as
          [Buffer, [Buffer, Buffer[]][]][] | null;
        const entries = reply?.[0]?.[1] ?? [];
        for (const entry of entries) JSON.parse((entry[1][1] as Buffer).toString());
        if (entries.length > 0) acks.push(acker.xack(key, 'raw', ...entries.map((e) => e[0])));
        processed += entries.length;
      }
    }
  }
  await Promise.all(acks);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await client.quit();
  await acker.quit();
  const cpuUs = cpu.user + cpu.system;
  return {
    scenario: `drain ${kind}`,
    kind,
    system: 'raw',
    messages: processed,
    msgPerSec: processed / seconds,
    cpuPercent: (cpuUs / 1e6 / seconds) * 100,
    cpuUsPerMsg: cpuUs / Math.max(1, processed),
    peakRssMb: peak(),
    errors: n - processed,
  };
}

/**
 * The live baseline: a plain ioredis at-least-once loop (the same Lua move, BLMOVE only when the list
 * is empty, DEL of the batch as the ack) against the same paced producer, latency from its timestamp.
 */
export async function rawLive(url: string, rate: number, seconds: number, run: number): Promise<Result> {
  const key = `bench:raw-live-${rate}-${run}`;
  const processing = `{${key}}:processing:raw`;
  const client = new Redis(url);
  const acker = new Redis(url, { enableAutoPipelining: true });
  client.defineCommand('benchMove', { numberOfKeys: 2, lua: MOVE });
  const move = client as unknown as { benchMoveBuffer(a: string, b: string, c: number): Promise<Buffer[]> };
  const latencies: number[] = [];
  let running = true;
  const record = (item: Buffer) => {
    const { t } = JSON.parse(item.toString()) as { t: number };
    latencies.push(nowMs() - t);
  };
  const loop = (async () => {
    while (running) {
      const items = (await move.benchMoveBuffer(key, processing, 100)) ?? [];
      if (items.length === 0) {
        const one = await client.blmoveBuffer(key, processing, 'RIGHT', 'LEFT', 0.2);
        if (one) record(one);
      }
      for (const item of items) record(item);
      await acker.del(processing);
    }
  })();
  const peak = rssSampler();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const sent = await runProducer(url, 'list-alo', key, rate, seconds);
  const deadline = Date.now() + 1000;
  while (latencies.length < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  running = false;
  await loop;
  await client.quit();
  await acker.quit();
  return liveResult('raw', 'list-alo', rate, seconds, elapsed, cpu, sent, latencies.length, latencies, peak());
}
