// Message bodies and schemas written to stall the worker: a schema pattern with catastrophic
// backtracking, and patterns that cannot run in linear time. Timeouts here are failure bounds (the
// backtracking engine took 35 s on this body), not speed assertions.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadPipelineFile } from '../../src/config/index.ts';
import { createDecoder } from '../../src/runtime/decode.ts';
import { exited, SUPPORT, spawnWorker } from '../helpers/pipelines.ts';
import { waitFor } from '../helpers/wait.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'pythia-messages-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function schemaFile(name: string, schema: object): string {
  const file = path.join(dir, name);
  writeFileSync(file, JSON.stringify(schema));
  return file;
}

const EVIL = { type: 'object', properties: { name: { type: 'string', pattern: '^(a+)+$' } } };
const EVIL_BODY = JSON.stringify({ name: `${'a'.repeat(30)}!` });

describe('schema patterns run in linear time', () => {
  it('^(a+)+$ against a 31-character name is a schema_invalid in bounded time', { timeout: 20_000 }, () => {
    const decode = createDecoder({ format: 'json', schema: schemaFile('evil.json', EVIL), max_bytes: 1000 }, dir);
    const result = decode(Buffer.from(EVIL_BODY));
    assert.deepEqual(result, {
      ok: false,
      reason: 'schema_invalid',
      error: 'body does not match message.schema: /name must match pattern "^(a+)+$"',
    });
    assert.deepEqual(decode(Buffer.from(JSON.stringify({ name: 'aaaa' }))), { ok: true, body: { name: 'aaaa' } });
  });

  it('patterns keep JavaScript meaning for classes, anchors, flags-free search and unicode', () => {
    const schema = {
      type: 'object',
      properties: { id: { type: 'string', pattern: '^[A-Z]{2}-\\d{4}$' }, tag: { type: 'string', pattern: 'é' } },
    };
    const decode = createDecoder({ format: 'json', schema: schemaFile('ids.json', schema), max_bytes: 1000 }, dir);
    assert.equal(decode(Buffer.from('{"id":"AB-1234","tag":"café"}')).ok, true);
    assert.equal(decode(Buffer.from('{"id":"ab-1234"}')).ok, false);
    assert.equal(decode(Buffer.from('{"tag":"cafe"}')).ok, false);
  });

  it('validate rejects a pattern that needs backtracking (a backreference), saying why', async () => {
    const schema = schemaFile('backref.json', { type: 'object', properties: { twice: { type: 'string', pattern: '^(ab)\\1$' } } });
    const file = path.join(dir, 'backref.yml');
    writeFileSync(
      file,
      `version: 1\nname: backref\nsource: {list: {key: q}}\nhandler: {module: ${path.join(SUPPORT, 'handlers/record.mjs')}}\nmessage: {format: json, schema: ${schema}}\n`,
    );
    const result = await loadPipelineFile(file);
    assert.equal(result.ok, false);
    const [issue] = result.ok ? [] : result.issues;
    assert.match(issue?.message ?? '', /is not a valid JSON Schema: .*\\1/);
    assert.deepEqual([issue?.line, issue?.col], [5, 33]);
  });
});

describe('a worker with a backtracking pattern in its schema', () => {
  const redis = usePrivateRedis();

  it('dead-letters the body while /livez keeps answering', { timeout: 120_000 }, async () => {
    const schema = schemaFile('evil-run.json', EVIL);
    const file = redis.dir.write(
      'evil',
      `name: evil\nredis: {url: "\${REDIS_URL}"}\nsource: {list: {key: "q:evil", block_timeout_ms: 200}}\nhandler: {module: "{{support}}/handlers/record.mjs"}\nmessage: {format: json, schema: ${schema}}\nmetrics: {enabled: true, host: 127.0.0.1, port: 0}\n`,
    );
    const worker = spawnWorker([file], { REDIS_URL: redis.server.url, PYTHIA_LOG_FORMAT: 'json', PYTHIA_LOG_LEVEL: 'info' });
    try {
      const port = await waitFor(
        () => `the metrics port in\n${worker.output()}`,
        () => Number(/"port":(\d+)[^\n]*metrics server listening/.exec(worker.output())?.[1] ?? 0) || undefined,
      );
      await waitFor(
        () => `pipeline consuming in\n${worker.output()}`,
        () => worker.output().includes('pipeline consuming'),
      );
      await redis.client.rpush('q:evil', ...Array.from({ length: 5 }, () => EVIL_BODY));
      let worst = 0;
      while ((await redis.client.llen('q:evil:dead')) < 5) {
        const start = performance.now();
        const response = await fetch(`http://127.0.0.1:${port}/livez`, { signal: AbortSignal.timeout(30_000) });
        assert.equal(response.status, 200);
        await response.text();
        worst = Math.max(worst, performance.now() - start);
        await new Promise((r) => setTimeout(r, 20));
      }
      console.log(`slowest /livez while the bodies were checked: ${worst.toFixed(0)} ms`);
      assert.ok(worst < 1500, `/livez took ${worst.toFixed(0)} ms`);
    } finally {
      worker.kill('SIGTERM');
      await exited(worker);
    }
  });
});
