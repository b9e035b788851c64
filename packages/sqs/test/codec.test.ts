import { SwitchboardError } from '@switchboard/core';
import { normalizeMessages } from '@switchboard/core/driver';
import { decodeMessage, encodeMessage, MAX_HEADERS, META_ATTRIBUTE } from '@switchboard/sqs';

const roundTrip = (body: Uint8Array | string, headers: Record<string, string> = {}, key?: string) => {
  const [m] = normalizeMessages({ body, headers, ...(key ? { key } : {}) });
  const e = encodeMessage(m!, { replyTo: 'rq', correlationId: 'c1' });
  const d = decodeMessage({ MessageId: 'mid', Body: e.body, MessageAttributes: e.attributes });
  return { m: m!, e, d };
};

describe('codec - body and metadata round-trip', () => {
  it('keeps UTF-8 text as is', () => {
    const { e, d } = roundTrip('héllo ✓');
    expect(e.body).toBe('héllo ✓');
    expect(Buffer.from(d.body).toString()).toBe('héllo ✓');
  });

  it('base64-encodes non-UTF-8 bytes and restores them exactly', () => {
    const bytes = new Uint8Array([0, 255, 128, 10, 0xc3, 0x28, 0xef, 0xbb, 0xbf]);
    const { e, d } = roundTrip(bytes);
    expect(JSON.parse(e.attributes[META_ATTRIBUTE]!.StringValue).e).toBe('b64');
    expect([...d.body]).toEqual([...bytes]);
  });

  it('keeps a leading BOM and control characters SQS refuses', () => {
    for (const b of [new Uint8Array([0xef, 0xbb, 0xbf, 0x41]), new TextEncoder().encode('a\u0001b')]) {
      expect([...roundTrip(b).d.body]).toEqual([...b]);
    }
  });

  it('carries an empty body', () => {
    const { e, d } = roundTrip(new Uint8Array(0));
    expect(e.body.length).toBeGreaterThan(0);
    expect(d.body.byteLength).toBe(0);
  });

  it('carries id, key, headers, reply-to and correlation id', () => {
    const { m, d } = roundTrip('x', { a: '1', 'content-type': 'text/plain', empty: '', 'with space': 'v', 'sb-dead-letter-reason': 'r' }, 'k1');
    expect(d.id).toBe(m.id);
    expect(d.key).toBe('k1');
    expect(d.replyTo).toBe('rq');
    expect(d.correlationId).toBe('c1');
    expect(d.headers).toEqual({ a: '1', 'content-type': 'text/plain', empty: '', 'with space': 'v', 'sb-dead-letter-reason': 'r' });
  });

  it('puts valid headers in attributes of their own (filterable) and the rest in the metadata', () => {
    const { e } = roundTrip('x', { color: 'red', 'bad name': 'v' });
    expect(e.attributes.color).toEqual({ DataType: 'String', StringValue: 'red' });
    expect(e.attributes['bad name']).toBeUndefined();
  });

  it('rejects more headers than SQS can carry, never truncates', () => {
    const headers = Object.fromEntries(Array.from({ length: MAX_HEADERS + 1 }, (_, i) => [`h${i}`, 'v']));
    const [m] = normalizeMessages({ body: 'x', headers });
    expect(() => encodeMessage(m!)).toThrow(SwitchboardError);
    try {
      encodeMessage(m!);
    } catch (e) {
      expect((e as SwitchboardError).code).toBe('invalid_argument');
    }
    const ok = Object.fromEntries(Array.from({ length: MAX_HEADERS }, (_, i) => [`h${i}`, 'v']));
    const [m2] = normalizeMessages({ body: 'x', headers: ok });
    expect(Object.keys(encodeMessage(m2!).attributes)).toHaveLength(MAX_HEADERS + 1);
  });

  it('counts the encoded size as SQS does', () => {
    const { e } = roundTrip('abc', { h: 'v' });
    const meta = e.attributes[META_ATTRIBUTE]!.StringValue;
    expect(e.size).toBe(3 + ('h'.length + 6 + 1) + (META_ATTRIBUTE.length + 6 + Buffer.byteLength(meta)));
  });

  it('decodes foreign messages (no metadata attribute)', () => {
    const d = decodeMessage({ MessageId: 'm1', Body: 'plain', MessageAttributes: { x: { DataType: 'String', StringValue: 'y' } }, Attributes: { MessageGroupId: 'g' } });
    expect(d.id).toBe('m1');
    expect(Buffer.from(d.body).toString()).toBe('plain');
    expect(d.headers).toEqual({ x: 'y' });
    expect(d.key).toBe('g');
  });
});
