import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runBench } from '../../bench/run.ts';
import { KINDS } from '../../bench/scenario.ts';

// A tiny run of the real benchmark: it must work end to end; its numbers are not asserted.
describe('pythia bench (smoke, N=1000)', () => {
  it('measures every kind as deployed and in-process beside its raw loop, a live rate and BullMQ, and writes JSON', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pythia-bench-test-'));
    const out = path.join(dir, 'results.json');
    try {
      const report = await runBench({
        n: 1000,
        runs: 1,
        liveSeconds: 1,
        rates: [500],
        bullmqN: 200,
        bullmqConcurrency: [10],
        kinds: KINDS,
        workerRss: true,
        out,
        log: () => {},
      });
      const results = report.runs[0] ?? [];
      for (const kind of KINDS) {
        const pythia = results.find((r) => r.system === 'pythia' && r.scenario === `drain ${kind}`);
        const raw = results.find((r) => r.system === 'raw' && r.scenario === `drain ${kind}`);
        assert.equal(pythia?.messages, 1000, `pythia ${kind} processed every message`);
        assert.equal(raw?.messages, 1000, `raw ${kind} processed every message`);
        const deployed = results.find((r) => r.system === 'deployed' && r.scenario === `drain ${kind}`);
        assert.equal(deployed?.messages, 2000, `pythia run (${kind}) in its own process processed every message`);
        assert.ok((deployed?.readyMs ?? 0) > 0, 'its start-up time is measured');
      }
      const live = results.find((r) => r.scenario.startsWith('live'));
      assert.ok(live && live.messages > 0 && Number.isFinite(live.p99Ms));
      assert.ok(results.some((r) => r.system === 'bullmq' && r.messages === 200));
      assert.match(report.table, /\| pythia \| drain list-alo \|/);
      assert.match(report.table.split('\n')[2] ?? '', /^\| deployed \| drain list-alo \|/, 'the deployed rows lead the table');
      assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')).table, report.table);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
