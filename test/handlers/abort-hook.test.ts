// The abort hook runners use instead of context.signal: the dispatcher's contexts offer it without making
// an AbortController; contexts made elsewhere get one built on their signal. Both must behave the same.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { abortHookOf, type AbortHook } from '../../src/handlers/runner.ts';
import type { HandlerContext } from '../../src/handlers/types.ts';
import { AbortableContext } from '../../src/runtime/attempt.ts';

class TestContext extends AbortableContext {
  readonly logger = pino({ level: 'silent' });
  readonly pipeline = 'p';
}

function fromSignal(): { context: HandlerContext; abort: (reason: unknown) => void } {
  const controller = new AbortController();
  return { context: { signal: controller.signal, logger: pino({ level: 'silent' }), pipeline: 'p' }, abort: (r) => controller.abort(r) };
}

function kinds(): [string, () => { hook: AbortHook; abort: (reason: unknown) => void; signal: () => AbortSignal }][] {
  return [
    [
      "the dispatcher's context",
      () => {
        const context = new TestContext();
        return { hook: abortHookOf(context), abort: (r) => context.abort(r), signal: () => context.signal };
      },
    ],
    [
      'a context with only a signal',
      () => {
        const { context, abort } = fromSignal();
        return { hook: abortHookOf(context), abort, signal: () => context.signal };
      },
    ],
  ];
}

describe('abort hook for runners', () => {
  for (const [label, make] of kinds()) {
    it(`${label}: a listener hears the first abort once; aborted already gives the reason at once`, () => {
      const { hook, abort, signal } = make();
      const heard: unknown[] = [];
      assert.equal(
        hook.listenForAbort((r) => heard.push(r)),
        undefined,
      );
      abort('timeout');
      abort('shutdown');
      assert.deepEqual(heard, ['timeout']);
      assert.deepEqual(
        hook.listenForAbort(() => heard.push('late')),
        { reason: 'timeout' },
      );
      assert.deepEqual(heard, ['timeout']);
      assert.ok(signal().aborted, 'a signal asked for afterwards is aborted');
      assert.equal(signal().reason, 'timeout');
    });

    it(`${label}: after stopListening the listener is not called`, () => {
      const { hook, abort } = make();
      let heard = 0;
      hook.listenForAbort(() => heard++);
      hook.stopListening();
      abort('timeout');
      assert.equal(heard, 0);
    });
  }

  it("the dispatcher's context: a handler's signal and a runner's listener both fire, with the same reason", () => {
    const context = new TestContext();
    const signal = context.signal;
    let heard: unknown;
    context.listenForAbort((r) => (heard = r));
    context.abort('timeout');
    assert.equal(signal.reason, 'timeout');
    assert.equal(heard, 'timeout');
  });
});
