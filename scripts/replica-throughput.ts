// Throughput of N worker replicas (real `pythia run` processes) against one private redis-server.
// Usage: node --import tsx scripts/replica-throughput.ts [--messages 20000] [--replicas 1,3] [--sleep-ms 0,5]
// For each source kind (list at-least-once, stream group), handler delay and replica count: start the
// replicas, wait until they consume, push the messages, and time until every one is acknowledged.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startRedis } from '../src/testing/redis-server.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    replicas: { type: 'string', default: '1,3' },
    'sleep-ms': { type: 'string', default: '0,5' },
  },
});
const MESSAGES = Number(values.messages);
const REPLICAS = values.replicas.split(',').map(Number);
const SLEEPS = values['sleep-ms'].split(',').map(Number);
const HANDLER = path.join(ROOT, 'test/topology/handlers/record.ts');

const server = await startRedis();
const admin = server.client();
const dir = mkdtempSync(path.join(tmpdir(), 'pythia-throughput-'));

function pipelineFile(kind: 'list' | 'stream', sleep: number): string {
  const source =
    kind === 'list'
      ? '  list: {key: jobs, batch_size: 100}'
      : '  stream: {key: jobs-stream, consumer_group: workers, consumer: "${PYTHIA_CONSUMER}", start_id: "0", batch_size: 100}';
  const file = path.join(dir, `${kind}-${sleep}.yml`);
  writeFileSync(
    file,
    `version: 1\nname: throughput-${kind}\nredis: {url: "${server.url}"}\nsource:\n${source}\nhandler: {module: "${HANDLER}", export: ${sleep > 0 ? 'handle' : 'noop'}}\nconcurrency: 10\nmetrics: {enabled: false}\n`,
  );
  return file;
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function drained(kind: 'list' | 'stream'): Promise<boolean> {
  if (kind === 'list') {
    if ((await admin.llen('jobs')) > 0) return false;
    const processing = await admin.keys('{jobs}:processing:*');
    for (const key of processing) if ((await admin.hlen(key)) > 0) return false;
    return true;
  }
  const groups = (await admin.xinfo('GROUPS', 'jobs-stream')) as unknown[][];
  const group = groups[0] ?? [];
  const lag = Number(group[group.indexOf('lag') + 1]);
  const pending = Number(group[group.indexOf('pending') + 1]);
  return lag === 0 && pending === 0;
}

async function measure(kind: 'list' | 'stream', sleep: number, replicas: number): Promise<number> {
  await admin.flushall();
  const file = pipelineFile(kind, sleep);
  const children: ChildProcess[] = [];
  const outputs: string[] = [];
  for (let i = 0; i < replicas; i++) {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/pythia.js'), 'run', file], {
      env: { ...process.env, PYTHIA_CONSUMER: `r${i}`, PYTHIA_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    outputs.push('');
    child.stderr?.on('data', (d: Buffer) => (outputs[i] += d.toString()));
    children.push(child);
  }
  await until(async () => outputs.every((o) => o.includes('pipeline consuming')), 30_000);
  const bodies = Array.from({ length: MESSAGES }, (_, i) => JSON.stringify({ id: i + 1, sleep }));
  const started = performance.now();
  for (let i = 0; i < MESSAGES; i += 1000) {
    const chunk = bodies.slice(i, i + 1000);
    if (kind === 'list') await admin.lpush('jobs', ...chunk);
    else {
      const pipe = admin.pipeline();
      for (const body of chunk) pipe.xadd('jobs-stream', '*', 'body', body);
      await pipe.exec();
    }
  }
  await until(() => drained(kind), 300_000);
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(
    children.map(
      (c) =>
        new Promise((r) => {
          c.once('exit', r);
          c.kill('SIGTERM');
        }),
    ),
  );
  return MESSAGES / seconds;
}

console.log(
  `${MESSAGES} messages per run, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), redis-server and every replica on this machine; concurrency 10 and batch_size 100 per replica`,
);
console.log(
  'source  handler       ' +
    REPLICAS.map((r) => `${r} replica${r > 1 ? 's' : ''}`.padStart(14)).join('') +
    (REPLICAS.length > 1 ? '   speed-up' : ''),
);
try {
  for (const kind of ['list', 'stream'] as const) {
    for (const sleep of SLEEPS) {
      const rates: number[] = [];
      for (const replicas of REPLICAS) rates.push(await measure(kind, sleep, replicas));
      const label = sleep > 0 ? `sleep ${sleep} ms` : 'no-op';
      const speedup = rates.length > 1 ? `   x${((rates[rates.length - 1] as number) / (rates[0] as number)).toFixed(2)}` : '';
      console.log(`${kind.padEnd(8)}${label.padEnd(14)}${rates.map((r) => `${Math.round(r)} msg/s`.padStart(14)).join('')}${speedup}`);
    }
  }
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
