// A publisher controls the channel name and the payload of what ends in a dead letter: `pythia dlq
// list` must print each entry as exactly one line, with escape sequences shown, never sent.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dlqListCommand } from '../../src/cli/dlq.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { Worker } from '../../src/runtime/worker.ts';
import { pipelineYaml } from '../helpers/pipelines.ts';
import { waitFor } from '../helpers/wait.ts';
import { usePrivateRedis } from '../helpers/private-redis.ts';
import { captured } from './helpers.ts';

describe('pythia dlq list with hostile channel names and payloads', () => {
  const redis = usePrivateRedis({ exportUrl: true });

  it('escapes ANSI sequences, newlines and C1 controls: one line per entry', async () => {
    const name = 'terminal';
    const file = redis.dir.write(
      name,
      pipelineYaml(name, {
        source: '{channel: {patterns: ["evil*"]}}',
        handler: '{module: "{{support}}/handlers/record.mjs"}',
        message: '{format: json}',
      }),
    );
    const loaded = await redis.dir.load(name, (await import('node:fs')).readFileSync(file, 'utf8'));
    const worker = await Worker.start([loaded], { logger: createLogger('silent') });
    try {
      const channel = 'evil\u001b[2J\u001b[31m\nabc123  retries_exhausted  attempts=1  FORGED\r\u009b1m';
      await waitFor('a dead letter from the hostile channel', async () => {
        await redis.client.publish(channel, 'not json \u001b]0;title\u0007\nFORGED LINE');
        return (await redis.client.keys('*dead*')).length > 0;
      });
      const list = captured();
      await waitFor('an entry listed by dlq list', async () => {
        list.stdout = '';
        await dlqListCommand(file, {}, list);
        return list.stdout.length > 0;
      });
      const lines = list.stdout.trimEnd().split('\n');
      assert.ok(lines.length >= 1);
      // eslint-disable-next-line no-control-regex -- the control characters are what the test looks for
      const rawControl = /[\u0000-\u001f\u007f-\u009f]/;
      for (const line of lines) assert.doesNotMatch(line, rawControl, `a raw control character in ${JSON.stringify(line)}`);
      assert.ok(
        lines.every((line) => line.includes('source=channel:evil\\u001b[2J\\u001b[31m\\nabc123')),
        list.stdout,
      );
      assert.match(lines[0] ?? '', /\\r\\u009b1m/);
      assert.match(lines[0] ?? '', /payload="not json \\u001b\]0;title\\u0007\\nFORGED LINE"/);
    } finally {
      await worker.stop();
    }
  });
});
