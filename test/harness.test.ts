import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startRedis, type RedisServer } from './helpers/redis-server.ts';

describe('test harness: private redis-server', () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedis({ appendonly: true });
  });
  after(async () => server.stop());

  it('runs on its own port, not the shared 6379', async () => {
    assert.notEqual(server.port, 6379);
    const info = await server.client().config('GET', 'dir');
    assert.equal(info[1], server.dir);
  });

  it('keeps appendonly data across a kill -9 restart', async () => {
    const client = server.client();
    await client.lpush('harness:list', 'a', 'b');
    await server.restart();
    const again = server.client();
    assert.equal(await again.llen('harness:list'), 2);
  });
});
