// The image's entrypoint (`tini -- node bin/pythia.js run`, see Dockerfile) as PID 1 of a fresh PID
// namespace, as in a container: a command handler that times out three times leaves no zombie. The
// same run with node itself as PID 1 shows why the init is there (the orphans stay <defunct>).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT } from '../helpers/pipelines.ts';
import { waitFor } from '../helpers/wait.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';

const TINI = '/usr/bin/tini';
const probe = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { encoding: 'utf8' });
const UNSHARE_MISSING =
  probe.error || probe.status !== 0
    ? `unshare --pid --fork --mount-proc is not available here (${probe.error?.message ?? probe.stderr.trim()}): the PID 1 test is skipped`
    : undefined;

interface Proc {
  pid: number;
  ppid: number;
  state: string;
  name: string;
}

function processes(): Proc[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((d) => {
      try {
        const status = readFileSync(`/proc/${d}/status`, 'utf8');
        const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '';
        return [{ pid: Number(d), ppid: Number(field('PPid')), state: field('State').charAt(0), name: field('Name') }];
      } catch {
        return []; // exited while listed
      }
    });
}

/** Every process below `root` (as the host sees them), the namespace's PID 1 first. */
function descendants(root: number): Proc[] {
  const all = processes();
  const found: Proc[] = [];
  let frontier = [root];
  while (frontier.length > 0) {
    const next = all.filter((p) => frontier.includes(p.ppid));
    found.push(...next);
    frontier = next.map((p) => p.pid);
  }
  return found;
}

describe('the entrypoint as PID 1: orphaned handler processes are reaped', { skip: UNSHARE_MISSING }, () => {
  const redis = usePrivateRedis({ cleanup: () => running.forEach(stopNamespace) });
  const running: ChildProcess[] = [];

  after(() => running.forEach(stopNamespace));

  /** SIGKILL to a namespace's PID 1 ends every process in it. */
  function stopNamespace(child: ChildProcess): void {
    const init = child.pid === undefined ? undefined : descendants(child.pid)[0];
    if (init) process.kill(init.pid, 'SIGKILL');
    child.kill('SIGKILL');
  }

  /**
   * Runs `[init] node bin/pythia.js run` as PID 1 of a new PID namespace, sends one message whose
   * handler starts a helper and then hangs, waits for the three timeouts (first attempt and two
   * retries) to dead-letter it, and returns the zombies left in the namespace once the helpers exit.
   */
  async function zombiesAfterTimeouts(name: string, init: string[]): Promise<{ zombies: Proc[]; pid1: string }> {
    const file = redis.dir.write(
      name,
      `name: ${name}
redis: {url: "${redis.server.url}"}
source: {list: {key: "${name}"}}
# A helper in a session of its own (as daemonizing tools and start_new_session children are) outlives
# the timeout's kill of the handler's process group: orphaned, it is re-parented to PID 1, and exits.
handler: {command: ["sh", "-c", "setsid sleep 0.7 & exec sleep 600"]}
resilience: {max_retries: 2, retry_delay_ms: 10, processing_timeout_ms: 500}
dead_letter: {list: "${name}:dead"}
metrics: {enabled: false}
`,
    );
    const child = spawn(
      'unshare',
      ['--pid', '--fork', '--mount-proc', ...init, process.execPath, path.join(ROOT, 'bin/pythia.js'), 'run', file],
      {
        env: { ...process.env, PYTHIA_LOG_FORMAT: 'json', PYTHIA_LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    running.push(child);
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(
      () => `the worker running:\n${output}`,
      () => output.includes('"worker running"'),
      { timeoutMs: 60_000 },
    );
    await redis.client.lpush(name, JSON.stringify({ id: 1 }));
    await waitFor(
      () => `the message dead-lettered after three timeouts:\n${output}`,
      async () => (await redis.client.llen(`${name}:dead`)) === 1,
      { timeoutMs: 30_000 },
    );
    const entry = JSON.parse((await redis.client.lindex(`${name}:dead`, 0)) as string) as { reason: string; attempts: number };
    assert.deepEqual([entry.reason, entry.attempts], ['timeout', 3]);
    // Each attempt's helper (`setsid sleep 0.7`) has exited by now.
    await new Promise((r) => setTimeout(r, 1500));
    const inside = descendants(child.pid as number);
    const zombies = inside.filter((p) => p.state === 'Z');
    const pid1 = inside[0]?.name ?? '';
    stopNamespace(child);
    return { zombies, pid1 };
  }

  it("with tini as PID 1 (the Dockerfile's entrypoint): no zombie after three handler timeouts", async () => {
    assert.ok(existsSync(TINI), `${TINI} is missing: install Debian's tini (apt-get install tini), the init the Dockerfile installs`);
    const { zombies, pid1 } = await zombiesAfterTimeouts('reaped', [TINI, '--']);
    assert.equal(pid1, 'tini');
    assert.deepEqual(zombies, []);
  });

  it('with node as PID 1 (no init) the same run leaves zombies: the test can tell', async () => {
    const { zombies, pid1 } = await zombiesAfterTimeouts('unreaped', []);
    assert.equal(pid1, 'node');
    assert.ok(zombies.length >= 3, `zombies: ${JSON.stringify(zombies)}`);
  });
});
