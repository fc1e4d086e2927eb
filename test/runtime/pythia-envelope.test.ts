import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pythiaEnvelope, unwrapPythia, wrapPythia } from '../../src/redis/pythia-envelope.ts';
import { createDecoder, createOpener } from '../../src/runtime/decode.ts';
import type { Delivery } from '../../src/sources/source.ts';

// Exactly what Python's json.dumps(data, ensure_ascii=False) writes: ", " and ": " separators,
// non-ASCII characters as themselves (UTF-8), escapes only for quotes, backslashes and control characters.
const PY = {
  dict: '{"body": {"order": 7, "customer": "Zoë Ærø", "items": [{"sku": "a-1", "qty": 2, "price": 9.5}, {"sku": "ü", "tags": []}], "gift": null, "rush": true}, "headers": {"tenant": "acme", "trace": "t-1"}, "message_id": "m-7"}',
  str: '{"body": "plain text, ünïcödé ✓ and a \\"quote\\"\\n", "headers": {}, "message_id": null}',
  hex: '{"body": "ff00fe7f", "headers": {}, "message_id": null}',
  message: '{"body": {"id": 1}, "headers": {"a": "b"}, "message_id": "msg-1", "timestamp": "2025-01-02T03:04:05.678901"}',
  structured: '{"body": [1, 2, 3]}',
  number: '{"body": 5, "headers": {}, "message_id": null}',
};

const open = (text: string) => {
  const result = unwrapPythia(Buffer.from(text));
  assert.ok(result.ok, result.ok ? '' : result.error);
  return result;
};

describe("Python Pythia's envelope", () => {
  it('a dict body comes out as the JSON text Python wrote (spacing, non-ASCII kept), with headers and message_id', () => {
    const result = open(PY.dict);
    assert.equal(
      result.body.toString(),
      '{"order": 7, "customer": "Zoë Ærø", "items": [{"sku": "a-1", "qty": 2, "price": 9.5}, {"sku": "ü", "tags": []}], "gift": null, "rush": true}',
    );
    assert.deepEqual(result.headers, { tenant: 'acme', trace: 't-1' });
    assert.equal(result.id, 'm-7');
  });

  it('a str body is its text (escapes decoded); a null or absent message_id is no id; timestamp is ignored', () => {
    const str = open(PY.str);
    assert.equal(str.body.toString(), 'plain text, ünïcödé ✓ and a "quote"\n');
    assert.equal(str.id, undefined);
    assert.equal(open(PY.message).id, 'msg-1');
    const structured = open(PY.structured);
    assert.deepEqual([structured.body.toString(), structured.headers, structured.id], ['[1, 2, 3]', {}, undefined]);
    assert.equal(open(PY.number).body.toString(), '5');
  });

  it('bytes that were not UTF-8 arrive as the hex text Python made of them', () => {
    const result = open(PY.hex);
    assert.equal(result.body.toString(), 'ff00fe7f');
    assert.deepEqual(Buffer.from(result.body.toString(), 'hex'), Buffer.from([0xff, 0x00, 0xfe, 0x7f]));
  });

  it('the last "body" member wins, as JSON.parse and Python keep it; nesting and strings with braces do not confuse it', () => {
    const result = open('{"body": {"x": "}]{\\"", "y": [[[]]]}, "headers": {"h": "v"}, "body": {"z": "}"}}');
    assert.equal(result.body.toString(), '{"z": "}"}');
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    assert.equal(open(`{"headers": {}, "body": ${deep}}`).body.toString(), deep);
  });

  it('numbers and booleans in headers become their JSON text; a header named __proto__ stays a header', () => {
    const result = open('{"body": 1, "headers": {"retries": 3, "ok": true, "__proto__": "x"}, "message_id": 42}');
    assert.deepEqual(Object.entries(result.headers), [
      ['retries', '3'],
      ['ok', 'true'],
      ['__proto__', 'x'],
    ]);
    assert.equal(result.id, '42');
  });

  it('anything that is not an envelope says why', () => {
    for (const [payload, error] of [
      ['{"id": 1}', /no "body" member/],
      ['[1, 2]', /a JSON array/],
      ['"text"', /a JSON string/],
      ['not json', /not JSON/],
      ['{"body": 1, "headers": [1]}', /"headers" is a JSON array/],
      ['{"body": 1, "headers": {"h": {"x": 1}}}', /header "h" is a JSON object/],
      ['{"body": 1, "message_id": {"a": 1}}', /"message_id" is a JSON object/],
    ] as const) {
      const result = unwrapPythia(Buffer.from(payload));
      assert.equal(result.ok, false, payload);
      assert.match(result.ok ? '' : result.error, error);
    }
    const binary = unwrapPythia(Buffer.from([0x7b, 0xff, 0x7d]));
    assert.match(binary.ok ? '' : binary.error, /not valid UTF-8/);
  });

  it('what Pythia writes, Python reads back the same: dict bodies stay values, strings strings, bytes text or hex', () => {
    const out = JSON.parse(wrapPythia({ a: 'ü', n: [1] }, { t: '1' }, 'id-1').toString()) as Record<string, unknown>;
    assert.deepEqual(out, { body: { a: 'ü', n: [1] }, headers: { t: '1' }, message_id: 'id-1' });
    assert.deepEqual(JSON.parse(wrapPythia('text', {}).toString()), { body: 'text', headers: {}, message_id: null });
    assert.equal((JSON.parse(wrapPythia(Buffer.from([0xff, 1]), {}).toString()) as { body: string }).body, 'ff01');
    assert.equal((JSON.parse(wrapPythia(Buffer.from('é'), {}).toString()) as { body: string }).body, 'é');
    assert.throws(() => wrapPythia(undefined, {}), /needs a body/);
  });

  it('streams: a body field and header_<name> fields, as RedisStreamsProducer writes them', () => {
    const fields = pythiaEnvelope.toFields(Buffer.from('{"id": 1}'), { trace: 't1' }).map(String);
    assert.deepEqual(fields, ['body', '{"id": 1}', 'header_trace', 't1']);
    assert.deepEqual(pythiaEnvelope.fromFields({ body: 'x', header_trace: 't1', 'h:other': 'o', header_: 'no name' }), { trace: 't1' });
  });

  it('the opener: invalid_envelope for lists and channels, and for stream entries without a body field', () => {
    const opener = createOpener(1 << 20, pythiaEnvelope);
    const delivery = (raw: string, kind: 'list' | 'stream', fields: Record<string, string> = {}): Delivery =>
      ({
        id: 'c:1',
        raw: Buffer.from(raw),
        fields,
        origin: kind === 'list' ? { kind, key: 'q' } : { kind, key: 's', group: 'g' },
        deliveryCount: 1,
        receivedAt: 0,
        token: 'x',
      }) as Delivery;
    const good = opener(delivery(PY.dict, 'list'));
    assert.ok(good.ok && good.whole && good.id === 'm-7');
    const bad = opener(delivery('{"id": 1}', 'list'));
    assert.deepEqual(bad.ok ? '' : bad.reason, 'invalid_envelope');
    const entry = opener(delivery('{"id": 1}', 'stream', { body: '{"id": 1}', header_t: 'v' }));
    assert.ok(entry.ok && entry.headers.t === 'v' && !entry.whole);
    const noBody = opener(delivery('{"a":"1"}', 'stream', { a: '1' }));
    assert.equal(noBody.ok ? '' : noBody.reason, 'invalid_envelope');
  });

  it('message.format decides what the body is: json parses Python dicts and JSON strings, text keeps the text', () => {
    const json = createDecoder({ format: 'json', max_bytes: 1 << 20, schema: '' }, '.');
    const text = createDecoder({ format: 'text', max_bytes: 1 << 20, schema: '' }, '.');
    const body = open(PY.dict).body;
    const decoded = json(body);
    assert.ok(decoded.ok);
    assert.equal((decoded.body as { customer: string }).customer, 'Zoë Ærø');
    const preSerialized = open('{"body": "{\\"id\\": 3}", "headers": {}, "message_id": null}').body;
    assert.deepEqual(json(preSerialized), { ok: true, body: { id: 3 } });
    assert.deepEqual(text(open(PY.str).body), { ok: true, body: 'plain text, ünïcödé ✓ and a "quote"\n' });
    assert.equal(json(open(PY.str).body).ok, false);
  });
});
