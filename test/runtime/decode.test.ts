import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDecoder } from '../../src/runtime/decode.ts';

const message = (format: 'json' | 'text' | 'binary', max_bytes = 1000) => ({ format, schema: '', max_bytes });

describe('message decoding', () => {
  it('json: parses UTF-8 JSON, and a payload whose bytes are not UTF-8 is invalid_json', () => {
    const decode = createDecoder(message('json'), '.');
    assert.deepEqual(decode(Buffer.from('{"name":"café"}')), { ok: true, body: { name: 'café' } });
    const latin1 = Buffer.concat([Buffer.from('{"name":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    assert.deepEqual(decode(latin1), { ok: false, reason: 'invalid_json', error: 'invalid JSON: the payload is not valid UTF-8' });
    const bad = decode(Buffer.from('{"id": 1'));
    assert.equal(bad.ok, false);
    assert.equal(!bad.ok && bad.reason, 'invalid_json');
  });

  it('text and binary pass the payload through; too large is checked first', () => {
    assert.deepEqual(createDecoder(message('text'), '.')(Buffer.from('hello')), { ok: true, body: 'hello' });
    const raw = Buffer.from([0, 255, 1]);
    assert.deepEqual(createDecoder(message('binary'), '.')(raw), { ok: true, body: raw });
    const tooLarge = createDecoder(message('json', 4), '.')(Buffer.from('"12345"'));
    assert.deepEqual(tooLarge, { ok: false, reason: 'too_large', error: 'payload of 7 bytes exceeds message.max_bytes 4' });
  });
});
