import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before } from 'node:test';
import { loadPipelineFile, type LoadedPipeline } from '../../src/config/index.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { OtlpReceiver } from './otlp-receiver.ts';
import { usePrivateRedis, type PrivateRedis } from './private-redis.ts';

/** What a tracing test file shares: its private Redis, an OTLP receiver, and a pipeline loader. */
export interface TracingSuite {
  redis: PrivateRedis;
  /** Listening from the suite's `before` to its `after`. */
  receiver: OtlpReceiver;
  /** Loads a pipeline file; a file with issues fails the test with them. */
  load(path: string): Promise<LoadedPipeline>;
}

/**
 * Registers the hooks of a suite that exports spans: a private redis-server (REDIS_URL exported for the
 * pipelines) and an OTLP/HTTP receiver, both stopped afterwards.
 */
export function useTracingSuite(): TracingSuite {
  const redis = usePrivateRedis({ exportUrl: true });
  const receiver = new OtlpReceiver();
  before(() => receiver.listen());
  after(() => receiver.close());
  const load = async (path: string): Promise<LoadedPipeline> => {
    const result = await loadPipelineFile(path);
    assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.issues));
    return result.pipeline;
  };
  return { redis, receiver, load };
}

/** A logger whose JSON lines the test reads. */
export function capturingLogger(): { logger: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('info', sink), lines };
}
