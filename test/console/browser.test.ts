import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { LoadedPipeline } from '../../src/config/index.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { ROOT } from '../helpers/pipelines.ts';
import { waitFor } from '../helpers/wait.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { eventsYaml, ordersYaml, PASSWORD, seedDeadLetters, startConsole, XSS } from './support.ts';

const CHROMIUM = process.env.PYTHIA_CHROMIUM ?? '/usr/bin/chromium';
/** PYTHIA_CONSOLE_SCREENSHOTS=1 also saves each page to docs/console/*.png (for docs/console.md). */
/** The page's CSP forbids evaluating strings, so waits poll through locators. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  await waitFor(what, check, { timeoutMs: 10_000, intervalMs: 100 });
}

const SHOTS = process.env.PYTHIA_CONSOLE_SCREENSHOTS ? path.join(ROOT, 'docs/console') : undefined;

describe(
  'pythia console in a real browser (Chromium, headless)',
  { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium)`, timeout: 120_000 },
  () => {
    const workers: Worker[] = [];
    let browser: Browser;
    let page: Page;
    let orders: LoadedPipeline;
    let console_: Awaited<ReturnType<typeof startConsole>>;
    // Registered before the private Redis's hooks so that it runs first: workers stop while Redis is up.
    after(async () => {
      await browser?.close();
      await console_?.close();
      await Promise.all(workers.map((w) => w.stop()));
    });
    const redis = usePrivateRedis({ password: PASSWORD, exportUrl: true });
    const pageErrors: string[] = [];

    const shot = async (name: string) => {
      if (!SHOTS) return;
      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
    };

    before(async () => {
      process.env.PYTHIA_WORKER_REPORT_INTERVAL_MS = '500';
      orders = await redis.dir.load('orders', ordersYaml());
      const billing = await redis.dir.load('billing', ordersYaml('billing'));
      await seedDeadLetters(redis.client, orders, { permanent: 6, invalid: 5 });
      // Two live replicas of a stream pipeline (distinct consumer names), and a list with a backlog and no worker.
      const replicas: LoadedPipeline[] = [];
      for (const consumer of ['replica-a', 'replica-b'])
        replicas.push(
          await redis.dir.load(`events-${consumer}`, eventsYaml().replace('start_id: "0"', `start_id: "0", consumer: ${consumer}`)),
        );
      for (const replica of replicas) workers.push(await Worker.start([replica], { logger: createLogger('silent'), report: true }));
      await redis.client.lpush('q:billing', ...Array.from({ length: 40 }, (_, i) => JSON.stringify({ id: i })));
      const produce = SHOTS ? 400 : 20;
      for (let i = 0; i < produce; i++)
        await redis.client.xadd('s:events', '*', 'body', JSON.stringify({ id: i, ...(i % 25 === 0 ? { permanent: 'class' } : {}) }));
      // For the screenshots only: three replicas of a busy list pipeline with a few hundred dead letters of mixed reasons.
      const payments = SHOTS ? await redis.dir.load('payments', ordersYaml('payments')) : undefined;
      if (payments) {
        for (let i = 0; i < 3; i++) workers.push(await Worker.start([payments], { logger: createLogger('silent'), report: true }));
        const failing = Array.from({ length: 260 }, (_, i) =>
          i % 3 === 0
            ? `{"amount": ${i}, "currency": "EUR"`
            : i % 3 === 1
              ? JSON.stringify({ id: i, permanent: 'class', amount: i * 10 })
              : Buffer.from([0x1f, 0x8b, 0x08, i % 256, 0x00, 0xff]),
        );
        await redis.client.lpush('q:payments', ...failing);
      }
      console_ = await startConsole([orders, replicas[0] as LoadedPipeline, billing, ...(payments ? [payments] : [])]);
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
      page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      page.setDefaultTimeout(10_000);
      page.on('pageerror', (error) => pageErrors.push(error.message));
      if (SHOTS) {
        // A few chart buckets of traffic for the screenshots (buckets are 10 s).
        for (let round = 0; round < 4; round++) {
          for (let i = 0; i < 50 * (round + 1); i++) await redis.client.xadd('s:events', '*', 'body', JSON.stringify({ id: i }));
          await redis.client.lpush(
            'q:payments',
            ...Array.from({ length: 120 * (4 - round) }, (_, i) =>
              JSON.stringify({ id: i, ...(i % 40 === 0 ? { permanent: 'class' } : {}) }),
            ),
          );
          await new Promise((r) => setTimeout(r, 10_000));
        }
      }
    });

    it('overview: every pipeline with its counts; the one with a backlog and no worker is red', async () => {
      await page.goto(`${console_.server.url}/`);
      const card = (name: string) => page.locator(`section.card[data-pipeline="${name}"]`);
      await card('orders').waitFor();
      assert.equal(await card('orders').getByTestId('dead-letter-count').textContent(), '11');
      assert.equal(await card('orders').getByTestId('queue-length').locator('.value').textContent(), '0');
      await until(
        async () => (await card('events').getByTestId('live-workers').locator('.value').textContent()) === '2',
        'two live workers of events',
      );
      assert.equal(await card('billing').getByTestId('queue-length').locator('.value').textContent(), '40');
      assert.match((await card('billing').getAttribute('class')) ?? '', /\bstuck\b/);
      assert.match((await card('billing').textContent()) ?? '', /40 messages waiting and no live worker/);
      assert.doesNotMatch((await card('orders').getAttribute('class')) ?? '', /\bstuck\b/);
      assert.ok(!(await page.content()).includes(PASSWORD));
      await shot('overview');
    });

    it('workers: both live replicas with host, pid, consumer', async () => {
      await page.goto(`${console_.server.url}/#/workers`);
      const rows = page.locator('section.block[data-pipeline="events"] [data-testid="workers"] tbody tr');
      await until(async () => (await rows.count()) === 2, 'two worker rows');
      const text = (await rows.allTextContents()).join('\n');
      assert.match(text, /replica-a/);
      assert.match(text, /replica-b/);
      assert.match(text, new RegExp(String(process.pid)));
      await shot('workers');
    });

    it('dead letters: filter by reason, open the XSS entry (rendered as text), replay it into the source', async () => {
      await page.goto(`${console_.server.url}/#/dead-letters/orders`);
      await page.getByTestId('entries').waitFor();
      assert.equal(await page.locator('table.entries tbody tr').count(), 11);
      await page.getByTestId('reason').selectOption('permanent_error');
      await until(async () => (await page.locator('table.entries tbody tr').count()) === 6, 'six permanent_error rows');
      const xssRow = page.locator('table.entries tbody tr', { hasText: '<script>' });
      await xssRow.click();
      const payload = page.getByTestId('payload');
      assert.match((await payload.textContent()) ?? '', /"note": "<script>window.__pwned = true<\/script><img src=x onerror=/);
      assert.equal(await page.locator('main script, main img').count(), 0, 'the payload did not become markup');
      assert.equal(await page.evaluate('window.__pwned'), undefined);
      assert.match((await page.getByTestId('entry-detail').textContent()) ?? '', /permanent_error.*cannot process 0/s);
      await shot('dead-letter-entry');

      await xssRow.locator('input[type="checkbox"]').check();
      await page.getByTestId('replay-selected').click();
      await page.getByTestId('notice').filter({ hasText: 'Replayed 1 entry' }).waitFor();
      const source = await redis.client.lrange('q:orders', 0, -1);
      assert.ok(
        source.some((body) => body.includes(XSS.slice(0, 20)) && (JSON.parse(body) as { note?: string }).note === XSS),
        'the replayed payload is back in the source',
      );
      assert.equal(await redis.client.llen('q:orders:dead'), 10);
      assert.equal(await page.locator('table.entries tbody tr').count(), 5);
    });

    it('purge asks for confirmation: cancel keeps the entries, confirm deletes that reason', async () => {
      await page.getByTestId('reason').selectOption('invalid_json');
      await until(async () => (await page.locator('table.entries tbody tr').count()) === 5, 'five invalid_json rows');
      await page.getByTestId('purge-all').click();
      await page.locator('dialog.confirm').waitFor();
      await shot('purge-confirm');
      await page.locator('dialog.confirm button', { hasText: 'Cancel' }).click();
      assert.equal(await redis.client.llen('q:orders:dead'), 10, 'cancel changed nothing');
      await page.getByTestId('purge-all').click();
      await page.getByTestId('confirm-purge').click();
      await page.getByTestId('notice').filter({ hasText: 'Purged 5 entries' }).waitFor();
      assert.equal(await redis.client.llen('q:orders:dead'), 5);
      assert.ok(
        (await redis.client.lrange('q:orders:dead', 0, -1)).every(
          (e) => (JSON.parse(e) as { reason: string }).reason === 'permanent_error',
        ),
      );
      await page.getByTestId('empty').waitFor();
      await page.goto(`${console_.server.url}/#/dead-letters/orders`);
      await page.getByTestId('entries').waitFor();
      if (SHOTS) {
        await page.goto(`${console_.server.url}/#/dead-letters/payments`);
        await page.locator('.tabs a.active', { hasText: 'payments' }).waitFor();
      }
      await shot('dead-letters');
      assert.deepEqual(pageErrors, []);
    });

    it('with a token: the page and the API refuse a request without it; the login form lets the operator in', async () => {
      const token = 'browser-test-token';
      const guarded = await startConsole([orders], { host: '0.0.0.0', token });
      try {
        const url = `http://127.0.0.1:${guarded.server.port}`;
        const context = await browser.newContext();
        const tab = await context.newPage();
        const api = await tab.goto(`${url}/api/pipelines`);
        assert.equal(api?.status(), 401);
        await tab.goto(`${url}/`);
        assert.equal(new URL(tab.url()).pathname, '/login');
        if (SHOTS) await tab.screenshot({ path: path.join(SHOTS, 'login.png') });
        await tab.fill('input[name="token"]', 'wrong');
        await tab.click('button[type="submit"]');
        await tab.getByText("not the console's token").waitFor();
        await tab.fill('input[name="token"]', token);
        await tab.click('button[type="submit"]');
        await tab.locator('section.card[data-pipeline="orders"]').waitFor();
        await until(
          async () => (await tab.locator('[data-testid="dead-letter-count"]').textContent()) === '5',
          'the overview after logging in',
        );
        await context.close();
      } finally {
        await guarded.close();
      }
    });
  },
);
