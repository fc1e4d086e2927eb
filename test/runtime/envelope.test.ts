import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nativeEnvelope as envelope } from '../../src/redis/envelope.ts';

const unwrap = (payload: Buffer) => {
  const result = envelope.unwrap(payload);
  assert.ok(result.ok, result.ok ? '' : result.error);
  return result;
};

describe('the native header envelope', () => {
  it('leaves a body without headers byte for byte as it is (lists and channels stay plain)', () => {
    for (const body of ['{"id":1}', 'plain text', '', '\u0000binary']) {
      const bytes = Buffer.from(body);
      assert.equal(envelope.wrap(bytes, {}), bytes);
      assert.deepEqual(unwrap(bytes), { ok: true, body: bytes, headers: {} });
    }
  });

  it('round-trips headers beside JSON, text and binary bodies (no base64, the body follows verbatim)', () => {
    const binary = Buffer.from([0xff, 0x0a, 0x00, 0x7b, 0x0a]);
    for (const body of [Buffer.from('{"id":1}'), Buffer.from('line 1\nline 2'), binary, Buffer.alloc(0)]) {
      const headers = { traceparent: '00-abc-def-01', tenant: 'a\nb "quoted"', 'content-type': 'application/json' };
      const wrapped = envelope.wrap(body, headers);
      assert.equal(wrapped[0], 0, 'starts with NUL: never a JSON document');
      assert.throws(() => JSON.parse(wrapped.toString()), SyntaxError);
      const back = unwrap(wrapped);
      assert.deepEqual(back.headers, headers);
      assert.ok(back.body.equals(body));
    }
  });

  it('a body that happens to start with the marker is enveloped, so it comes back unchanged', () => {
    const tricky = Buffer.from('\u0000pythia-headers\n{"x":"y"}\nhello');
    const wrapped = envelope.wrap(tricky, {});
    assert.notEqual(wrapped, tricky);
    const back = unwrap(wrapped);
    assert.deepEqual(back.headers, {});
    assert.ok(back.body.equals(tricky));
  });

  it('rejects a malformed envelope with a reason instead of guessing', () => {
    const marker = '\u0000pythia-headers\n';
    for (const [payload, error] of [
      [`${marker}{"a":"b"}`, /newline/],
      [`${marker}{bad\nbody`, /not JSON/],
      [`${marker}[1]\nbody`, /not a JSON object/],
      [`${marker}{"n":1}\nbody`, /"n" is not a string/],
    ] as const) {
      const result = envelope.unwrap(Buffer.from(payload));
      assert.equal(result.ok, false);
      assert.match(result.ok ? '' : result.error, error);
    }
  });

  it('streams: a body field and one h:<name> field per header; other fields are not headers', () => {
    const fields = envelope.toFields(Buffer.from('{"id":1}'), { trace: 't1', tenant: 'acme' }).map(String);
    assert.deepEqual(fields, ['body', '{"id":1}', 'h:trace', 't1', 'h:tenant', 'acme']);
    assert.deepEqual(envelope.fromFields({ body: 'x', 'h:trace': 't1', other: 'o', 'h:': 'ignored' }), { trace: 't1' });
    assert.deepEqual(envelope.fromFields({ body: 'x' }), {});
  });

  it('refuses header values that are not strings, and empty names', () => {
    assert.throws(() => envelope.wrap(Buffer.from('x'), { n: 1 as never }), /must be a string/);
    assert.throws(() => envelope.toFields(Buffer.from('x'), { '': 'v' }), /cannot be empty/);
  });
});
