// Command handlers get an explicit environment (handler.env_inherit; by default without the
// pipeline's Redis credentials), and a handler flooding stderr is logged at a bounded rate with a
// count of what was dropped, without holding up its message or the shutdown.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { loadPipelineText } from '../../src/config/index.ts';
import { createHandlerRunner } from '../../src/handlers/index.ts';
import type { Message } from '../../src/handlers/types.ts';
import { scrubSecrets } from '../../src/redis/redact.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { ROOT } from '../helpers/pipelines.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'pythia-hostile-handlers-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const printEnv = path.join(dir, 'print-env.mjs');
writeFileSync(printEnv, 'process.stdout.write(JSON.stringify(process.env));\n');
const flood = path.join(dir, 'flood.mjs');
// 2 s of stderr as fast as it goes (with ANSI escapes), then the reply.
writeFileSync(
  flood,
  // As fast as the pipe is read: waiting for 'drain' keeps the flood from piling up in the child, where
  // Node's one writev of everything queued fails with ENOBUFS on some kernels (the child then dies).
  "const end = Date.now() + 2000;\nconst line = '\\u001b[31mflood\\u001b[0m ' + 'x'.repeat(200) + '\\n';\nfunction burst() {\n  let room = true;\n  for (let i = 0; i < 200 && room; i++) room = process.stderr.write(line);\n  if (Date.now() >= end) process.stdout.write(JSON.stringify({ done: true }));\n  else if (room) setImmediate(burst);\n  else process.stderr.once('drain', burst);\n}\nburst();\n",
);

function message(): Message {
  return {
    id: '1',
    body: { hello: 'world' },
    raw: Buffer.from('{}'),
    fields: {},
    headers: {},
    source: { kind: 'list', key: 'q' },
    attempt: 1,
    deliveryCount: 1,
    receivedAt: Date.now(),
  };
}

function capture(): { stream: Writable; lines: () => Record<string, unknown>[]; bytes: () => number } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return {
    stream,
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    bytes: () => text.length,
  };
}

async function runOnce(
  handler: string,
  redis: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ result: unknown; logs: Record<string, unknown>[]; bytes: number }> {
  const file = path.join(dir, 'p.yml');
  const yaml = `version: 1\nname: envtest\nredis: ${redis}\nsource: {list: {key: q}}\nhandler: ${handler}\n`;
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const loaded = await loadPipelineText(file, yaml, { env: process.env });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
    const out = capture();
    const logger = createLogger('info', out.stream);
    const runner = await createHandlerRunner(loaded.pipeline.config, dir, logger);
    try {
      const result = await runner.invoke(message(), { signal: new AbortController().signal, logger, pipeline: 'envtest' });
      return { result, logs: out.lines(), bytes: out.bytes() };
    } finally {
      await runner.close();
    }
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

const SECRETS = {
  REDIS_PASSWORD: 'conventional-secret',
  PYTHIA_TEST_PW: 's3cretPW-from-var',
  PYTHIA_TEST_URL: 'redis://app:url-s3cret@127.0.0.1:6390/0',
  PYTHIA_TEST_OTHER: 'plain value',
};

describe('command handler environment', () => {
  it('default (all-except-credentials): no REDIS_PASSWORD, no variable a redis key reads; the rest, handler.env and PYTHIA_* are there', async () => {
    const { result } = await runOnce(
      `{command: ["${process.execPath}", "${printEnv}"], env: {FOO: bar}}`,
      '{password: "${PYTHIA_TEST_PW}", host: localhost}',
      SECRETS,
    );
    const env = result as Record<string, string>;
    assert.equal(env.REDIS_PASSWORD, undefined);
    assert.equal(env.PYTHIA_TEST_PW, undefined);
    assert.equal(env.PYTHIA_TEST_OTHER, 'plain value');
    assert.equal(env.FOO, 'bar');
    assert.equal(env.PYTHIA_PIPELINE, 'envtest');
    assert.ok(env.PATH);
    assert.doesNotMatch(JSON.stringify(env), /s3cretPW-from-var|conventional-secret/);
  });

  it('a variable holding a URL with the password of redis.url is left out too', async () => {
    const { result } = await runOnce(`{command: ["${process.execPath}", "${printEnv}"]}`, '{url: "${PYTHIA_TEST_URL}"}', SECRETS);
    assert.equal((result as Record<string, string>).PYTHIA_TEST_URL, undefined);
  });

  it('OTLP export credentials are left out too: OTEL_EXPORTER_OTLP_HEADERS and the variable tracing.headers reads', async () => {
    const { result } = await runOnce(
      `{command: ["${process.execPath}", "${printEnv}"]}`,
      '{host: localhost}\ntracing: {headers: {x-api-key: "${PYTHIA_TEST_OTLP_KEY}"}}',
      { ...SECRETS, PYTHIA_TEST_OTLP_KEY: 'otlp-k3y-value', OTEL_EXPORTER_OTLP_HEADERS: 'api-key=otlp-env-k3y' },
    );
    const env = result as Record<string, string>;
    assert.equal(env.PYTHIA_TEST_OTLP_KEY, undefined);
    assert.equal(env.OTEL_EXPORTER_OTLP_HEADERS, undefined);
    assert.equal(env.PYTHIA_TEST_OTHER, 'plain value');
  });

  it('none: PATH, PYTHIA_* and handler.env only; a list: those names and PATH; all: everything', async () => {
    const none = (
      await runOnce(`{command: ["${process.execPath}", "${printEnv}"], env: {FOO: bar}, env_inherit: none}`, '{host: localhost}', SECRETS)
    ).result as Record<string, string>;
    assert.deepEqual(
      Object.keys(none)
        .filter((k) => !k.startsWith('PYTHIA_'))
        .sort(),
      ['FOO', 'PATH', 'PYTHONUNBUFFERED'],
    );
    const list = (
      await runOnce(`{command: ["${process.execPath}", "${printEnv}"], env_inherit: [PYTHIA_TEST_OTHER]}`, '{host: localhost}', SECRETS)
    ).result as Record<string, string>;
    assert.equal(list.PYTHIA_TEST_OTHER, 'plain value');
    assert.equal(list.REDIS_PASSWORD, undefined);
    assert.equal(list.HOME, undefined);
    const all = (
      await runOnce(
        `{command: ["${process.execPath}", "${printEnv}"], env_inherit: all}`,
        '{password: "${PYTHIA_TEST_PW}", host: localhost}',
        SECRETS,
      )
    ).result as Record<string, string>;
    assert.equal(all.REDIS_PASSWORD, 'conventional-secret', 'all means all: an explicit choice');
  });

  it('persistent mode gets the same environment', async () => {
    const persistent = path.join(dir, 'persistent-env.mjs');
    writeFileSync(
      persistent,
      "import { createInterface } from 'node:readline';\nfor await (const line of createInterface({ input: process.stdin })) {\n  const { id } = JSON.parse(line);\n  process.stdout.write(JSON.stringify({ id, ok: true, result: { password: process.env.REDIS_PASSWORD ?? null, other: process.env.PYTHIA_TEST_OTHER } }) + '\\n');\n}\n",
    );
    const { result } = await runOnce(`{command: ["${process.execPath}", "${persistent}"], mode: persistent}`, '{host: localhost}', SECRETS);
    assert.deepEqual(result, { password: null, other: 'plain value' });
  });
});

describe('no shell', () => {
  it('shell metacharacters in handler.command reach the program as they are', async () => {
    const echoArg = path.join(dir, 'echo-arg.mjs');
    writeFileSync(echoArg, 'process.stdout.write(JSON.stringify(process.argv.slice(2)));\n');
    const marker = path.join(dir, 'pwned');
    const { result } = await runOnce(
      `{command: ["${process.execPath}", "${echoArg}", "$(touch ${marker})", "; touch ${marker}", "\`id\`", "*"]}`,
      '{host: localhost}',
    );
    assert.deepEqual(result, [`$(touch ${marker})`, `; touch ${marker}`, '`id`', '*']);
    assert.equal((await import('node:fs')).existsSync(marker), false);
  });
});

describe('handler stderr', () => {
  it(
    'a flood is logged at a bounded rate, escaped, with a warning counting the dropped lines; the reply is not held up',
    { timeout: 60_000 },
    async () => {
      const start = performance.now();
      const { result, logs, bytes } = await runOnce(`{command: ["${process.execPath}", "${flood}"]}`, '{host: localhost}');
      const seconds = (performance.now() - start) / 1000;
      assert.deepEqual(result, { done: true });
      const lines = logs.filter((l) => l.stream === 'stderr' && l.level === 'info');
      const warnings = logs.filter((l) => l.level === 'warn' && typeof l.dropped === 'number');
      const dropped = warnings.reduce((sum, w) => sum + (w.dropped as number), 0);
      console.log(
        `stderr flood for 2 s, read in ${seconds.toFixed(1)} s: ${lines.length} lines logged, ${dropped} dropped, ${bytes} bytes of log`,
      );
      // The bucket: a burst of 200, then 100 lines a second while the pipe is read.
      assert.ok(lines.length <= 200 + 100 * Math.ceil(seconds), `${lines.length} lines logged in ${seconds.toFixed(1)} s`);
      assert.ok(dropped > 1000, `${dropped} lines counted as dropped`);
      assert.match(String(lines[0]?.msg), /^\\u001b\[31mflood\\u001b\[0m x{200}$/);
      assert.ok(bytes < 500 * (200 + 100 * Math.ceil(seconds)), `${bytes} bytes of log`);
    },
  );
});

describe('pretty logs', () => {
  it('escape control characters in the message and in fields', { timeout: 60_000 }, async () => {
    const script = path.join(dir, 'pretty.mts');
    writeFileSync(
      script,
      `import { createLogger } from ${JSON.stringify(path.join(ROOT, 'src/runtime/logger.ts'))};\ncreateLogger('info').info({ channel: 'a\\u001b[31mb\\nc' }, 'line one\\u001b[2J\\nFORGED line');\n`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: { ...process.env, PYTHIA_LOG_FORMAT: 'pretty' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    await new Promise((resolve) => child.on('close', resolve));
    assert.match(err, /line one\\u001b\[2J\\nFORGED line/);
    assert.match(err, /channel: "a\\u001b\[31mb\\nc"/);
    assert.equal(err.trimEnd().split('\n').length, 2, err);
  });
});

describe('log redaction stays linear', () => {
  it('a 1 MB run of letters is scrubbed in bounded time', { timeout: 10_000 }, () => {
    const line = 'a'.repeat(1_000_000);
    assert.equal(scrubSecrets(line), line);
  });
});
