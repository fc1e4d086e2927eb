import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { LoadedPipeline } from '../../src/config/index.ts';
import { ConsoleServer } from '../../src/console/server.ts';
import { PipelineClients } from '../../src/console/clients.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { eventsYaml, ordersYaml, PASSWORD, seedDeadLetters, startConsole, XSS } from './support.ts';

interface Page {
  total: number;
  reasons: Record<string, number>;
  entries: { id: string; reason: string; error: string; attempts: number; payload: { kind: string; text: string; bytes: number } }[];
  next_cursor: string | null;
}

describe('pythia console: the JSON API against a private redis-server', () => {
  const redis = usePrivateRedis({ password: PASSWORD, exportUrl: true });
  let orders: LoadedPipeline;
  let events: LoadedPipeline;
  let console_: Awaited<ReturnType<typeof startConsole>>;
  let base: string;
  let csrf: string;

  before(async () => {
    orders = await redis.dir.load('orders', ordersYaml());
    events = await redis.dir.load('events', eventsYaml());
    await seedDeadLetters(redis.client, orders, { permanent: 6, invalid: 5, ok: 3 });
    await seedDeadLetters(redis.client, events, { permanent: 2, invalid: 2 });
    console_ = await startConsole([orders, events]);
    base = console_.server.url;
    csrf = ((await (await fetch(`${base}/api/session`)).json()) as { csrf: string }).csrf;
  });
  after(() => console_?.close());

  const get = async (path: string) => {
    const response = await fetch(`${base}${path}`);
    return { status: response.status, text: await response.text() };
  };
  const post = (
    path: string,
    body: unknown,
    headers: Record<string, string> = { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
  ) => fetch(`${base}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('GET /api/pipelines: source, queue, dead-letter counts, no worker after the seeding worker stopped; no password anywhere', async () => {
    const { status, text } = await get('/api/pipelines');
    assert.equal(status, 200);
    assert.ok(!text.includes(PASSWORD), 'the Redis password is not in the response');
    const { pipelines } = JSON.parse(text) as {
      pipelines: {
        name: string;
        source: { kind: string; key: string };
        queue: Record<string, number>;
        dead_letter: { count: number; key: string };
        workers: unknown[];
        stuck: string[];
      }[];
    };
    const [o, e] = pipelines;
    assert.equal(o?.name, 'orders');
    assert.deepEqual(o?.source, { kind: 'list', key: 'q:orders' });
    assert.equal(o?.dead_letter.count, 11);
    assert.equal(o?.dead_letter.key, 'q:orders:dead');
    assert.equal(o?.queue.length, 0);
    assert.equal(o?.workers.length, 0, 'a stopped worker removed its record');
    assert.deepEqual(o?.stuck, []);
    assert.equal(e?.dead_letter.count, 4);
    assert.equal(e?.queue.pending, 0);
    assert.equal(e?.queue.lag, 0);
  });

  it('GET dead-letters: reasons counted, filtered, paginated; binary as hex; the XSS payload comes back as data', async () => {
    const all = JSON.parse((await get('/api/pipelines/orders/dead-letters?limit=100')).text) as Page;
    assert.equal(all.total, 11);
    assert.deepEqual(all.reasons, { permanent_error: 6, invalid_json: 5 });
    assert.equal(all.entries.length, 11);
    assert.equal(all.next_cursor, null);
    const xss = all.entries.find((e) => e.payload.text.includes('<script>'));
    assert.ok(xss, 'the XSS entry is listed');
    assert.equal(xss.payload.kind, 'json');
    assert.equal((JSON.parse(xss.payload.text) as { note: string }).note, XSS);
    assert.equal(xss.attempts, 1);
    assert.match(xss.error, /cannot process 0/);

    const first = JSON.parse((await get('/api/pipelines/orders/dead-letters?reason=invalid_json&limit=3')).text) as Page;
    assert.equal(first.entries.length, 3);
    assert.ok(first.entries.every((e) => e.reason === 'invalid_json'));
    assert.ok(first.next_cursor);
    const second = JSON.parse(
      (await get(`/api/pipelines/orders/dead-letters?reason=invalid_json&limit=3&cursor=${first.next_cursor}`)).text,
    ) as Page;
    assert.equal(second.entries.length, 2);
    assert.equal(second.next_cursor, null);
    const ids = [...first.entries, ...second.entries].map((e) => e.id);
    assert.equal(new Set(ids).size, 5, 'pages do not overlap');
    const binary = [...first.entries, ...second.entries].find((e) => e.payload.kind === 'binary');
    assert.match(binary?.payload.text ?? '', /^00000000 {2}00 ff fe 80 41 0a c3 28/);

    const stream1 = JSON.parse((await get('/api/pipelines/events/dead-letters?limit=3')).text) as Page;
    assert.equal(stream1.entries.length, 3);
    const stream2 = JSON.parse((await get(`/api/pipelines/events/dead-letters?limit=3&cursor=${stream1.next_cursor}`)).text) as Page;
    assert.equal(stream2.entries.length, 1);
    assert.equal(stream2.next_cursor, null);
  });

  it('refuses bad requests: unknown pipeline, bad limit or cursor, GET on an action, no CSRF token, not JSON, oversized body, a vague selection', async () => {
    assert.equal((await get('/api/pipelines/nope/dead-letters')).status, 404);
    assert.equal((await get('/api/pipelines/orders/dead-letters?limit=1000')).status, 400);
    assert.equal((await get('/api/pipelines/orders/dead-letters?cursor=abc')).status, 400);
    assert.equal((await get('/api/pipelines/orders/dead-letters/replay')).status, 405);
    assert.equal(
      (await post('/api/pipelines/orders/dead-letters/replay', { all: true }, { 'Content-Type': 'application/json' })).status,
      403,
    );
    assert.equal(
      (
        await post(
          '/api/pipelines/orders/dead-letters/purge',
          { all: true },
          { 'Content-Type': 'application/json', 'X-CSRF-Token': 'wrong' },
        )
      ).status,
      403,
    );
    assert.equal(
      (
        await post('/api/pipelines/orders/dead-letters/purge', 'all=true', {
          'Content-Type': 'application/x-www-form-urlencoded',
          'X-CSRF-Token': csrf,
        })
      ).status,
      415,
    );
    assert.equal((await post('/api/pipelines/orders/dead-letters/purge', { ids: ['x'.repeat(300_000)] })).status, 413);
    assert.equal((await post('/api/pipelines/orders/dead-letters/purge', { all: true, reason: 'timeout' })).status, 400);
    assert.equal((await post('/api/pipelines/orders/dead-letters/purge', { all: 'yes' })).status, 400);
    assert.equal((await post('/api/pipelines/orders/dead-letters/purge', '{nope')).status, 400);
    // DNS rebinding: a page on another name pointed at 127.0.0.1 sends its own Host.
    const rebound = await new Promise<number | undefined>((resolve, reject) => {
      request(
        `${base}/api/pipelines`,
        { headers: { Host: 'evil.example' } },
        (response) => (response.resume(), resolve(response.statusCode)),
      )
        .on('error', reject)
        .end();
    });
    assert.equal(rebound, 403);
    const crossSite = await post(
      '/api/pipelines/orders/dead-letters/purge',
      { all: true },
      { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf, Origin: 'http://evil.example' },
    );
    assert.equal(crossSite.status, 403);
    assert.equal(await redis.client.llen('q:orders:dead'), 11, 'nothing was changed');
  });

  it('replay by ids and by reason puts the payloads back into the source and removes just those entries', async () => {
    const page = JSON.parse((await get('/api/pipelines/orders/dead-letters?reason=permanent_error&limit=2')).text) as Page;
    const ids = page.entries.map((e) => e.id);
    const byIds = (await (await post('/api/pipelines/orders/dead-letters/replay', { ids: [...ids, 'no-such-id'] })).json()) as {
      done: number;
      not_found: string[];
    };
    assert.equal(byIds.done, 2);
    assert.deepEqual(byIds.not_found, ['no-such-id']);
    assert.equal(await redis.client.llen('q:orders'), 2);
    assert.equal(await redis.client.llen('q:orders:dead'), 9);

    const byReason = (await (await post('/api/pipelines/orders/dead-letters/replay', { reason: 'invalid_json' })).json()) as {
      done: number;
    };
    assert.equal(byReason.done, 5);
    const source = await redis.client.lrangeBuffer('q:orders', 0, -1);
    assert.equal(source.length, 7);
    assert.ok(
      source.some((b) => b.equals(Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41, 0x0a, 0xc3, 0x28]))),
      'binary payload replayed byte for byte',
    );
    const left = JSON.parse((await get('/api/pipelines/orders/dead-letters')).text) as Page;
    assert.deepEqual(left.reasons, { permanent_error: 4 });

    const stream = (await (await post('/api/pipelines/events/dead-letters/replay', { all: true })).json()) as { done: number };
    assert.equal(stream.done, 4);
    assert.equal(await redis.client.xlen('s:events:dead'), 0);
    assert.equal(await redis.client.xlen('s:events'), 8);
  });

  it('purge by ids, by reason, and all', async () => {
    const page = JSON.parse((await get('/api/pipelines/orders/dead-letters?limit=1')).text) as Page;
    const one = (await (await post('/api/pipelines/orders/dead-letters/purge', { ids: [page.entries[0]?.id] })).json()) as { done: number };
    assert.equal(one.done, 1);
    assert.equal(await redis.client.llen('q:orders:dead'), 3);
    const reason = (await (await post('/api/pipelines/orders/dead-letters/purge', { reason: 'timeout' })).json()) as { done: number };
    assert.equal(reason.done, 0);
    const all = (await (await post('/api/pipelines/orders/dead-letters/purge', { all: true })).json()) as { done: number };
    assert.equal(all.done, 3);
    assert.equal(await redis.client.exists('q:orders:dead'), 0);
    assert.equal(await redis.client.llen('q:orders'), 7, 'the source is untouched');
  });
});

describe('pythia console: safe by default', () => {
  const redis = usePrivateRedis({ exportUrl: true });
  let orders: LoadedPipeline;
  before(async () => {
    orders = await redis.dir.load('orders', ordersYaml());
  });

  it('refuses to serve on a non-loopback address without PYTHIA_CONSOLE_TOKEN', () => {
    assert.throws(
      () => new ConsoleServer({ host: '0.0.0.0', port: 0, pipelines: [orders], clients: new PipelineClients() }),
      /PYTHIA_CONSOLE_TOKEN/,
    );
  });

  it('with a token: 401 without it, Bearer works, the login form sets a session cookie, a wrong token is refused', async () => {
    const token = 'console-token-for-tests';
    const c = await startConsole([orders], { host: '0.0.0.0', token });
    const url = `http://127.0.0.1:${c.server.port}`;
    try {
      assert.equal((await fetch(`${url}/api/pipelines`)).status, 401);
      assert.equal((await fetch(`${url}/api/pipelines`, { headers: { Authorization: 'Bearer wrong' } })).status, 401);
      const page = await fetch(`${url}/`, { redirect: 'manual' });
      assert.equal(page.status, 303);
      assert.equal(page.headers.get('location'), '/login');
      assert.equal((await fetch(`${url}/api/pipelines`, { headers: { Authorization: `Bearer ${token}` } })).status, 200);
      // A script with the bearer token needs no CSRF token (no cookie is involved).
      const scripted = await fetch(`${url}/api/pipelines/orders/dead-letters/purge`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: '{"all":true}',
      });
      assert.equal(scripted.status, 200);

      const bad = await fetch(`${url}/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'token=nope',
        redirect: 'manual',
      });
      assert.equal(bad.status, 401);
      const good = await fetch(`${url}/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: `token=${token}`,
        redirect: 'manual',
      });
      assert.equal(good.status, 303);
      const cookie = (good.headers.get('set-cookie') ?? '').split(';')[0] as string;
      assert.match(good.headers.get('set-cookie') ?? '', /HttpOnly; SameSite=Strict/);
      assert.equal((await fetch(`${url}/api/pipelines`, { headers: { Cookie: cookie } })).status, 200);
      // A cookie alone does not make a change: the page's CSRF token is needed too.
      const noCsrf = await fetch(`${url}/api/pipelines/orders/dead-letters/purge`, {
        method: 'POST',
        headers: { Cookie: cookie, 'Content-Type': 'application/json' },
        body: '{"all":true}',
      });
      assert.equal(noCsrf.status, 403);
      const html = await (await fetch(`${url}/`, { headers: { Cookie: cookie } })).text();
      const csrf = /name="csrf-token" content="([^"]+)"/.exec(html)?.[1] as string;
      const withCsrf = await fetch(`${url}/api/pipelines/orders/dead-letters/purge`, {
        method: 'POST',
        headers: { Cookie: cookie, 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
        body: '{"all":true}',
      });
      assert.equal(withCsrf.status, 200);
    } finally {
      await c.close();
    }
  });

  it('a pipeline whose Redis is unreachable shows an error, without its password, and the others still load', async () => {
    const file = redis.dir.write(
      'gone',
      ordersYaml('gone').replace('"${REDIS_URL}"', `"redis://admin:${PASSWORD}@127.0.0.1:1", connection_timeout_ms: 300`),
    );
    const gone = await redis.dir.load('gone', (await import('node:fs')).readFileSync(file, 'utf8'));
    const c = await startConsole([orders, gone]);
    try {
      const text = await (await fetch(`${c.server.url}/api/pipelines`)).text();
      assert.ok(!text.includes(PASSWORD), text);
      const { pipelines } = JSON.parse(text) as { pipelines: { name: string; error?: string; dead_letter?: unknown }[] };
      assert.equal(pipelines[0]?.error, undefined);
      assert.match(pipelines[1]?.error ?? '', /cannot reach Redis/);
    } finally {
      await c.close();
    }
  });
});
