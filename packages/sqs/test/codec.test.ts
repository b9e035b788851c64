import { SwitchboardError } from '@switchboard/core';
import { normalizeMessages } from '@switchboard/core/driver';
import { decodeMessage, encodeMessage, fifoToken, MAX_HEADERS, META_ATTRIBUTE } from '@switchboard/sqs';

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
    expect(e.attributes['sb-body-encoding']).toEqual({ DataType: 'String', StringValue: 'base64' });
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
    const [m] = normalizeMessages({ id: 'id1', body: 'abc', headers: { h: 'v' } });
    const e = encodeMessage(m!);
    expect(e.size).toBe(3 + ('h'.length + 6 + 1) + ('sb-message-id'.length + 6 + 3));
  });

  it('decodes foreign messages (no Switchboard attribute)', () => {
    const d = decodeMessage({ MessageId: 'm1', Body: 'plain', MessageAttributes: { x: { DataType: 'String', StringValue: 'y' } }, Attributes: { MessageGroupId: 'g' } });
    expect(d.id).toBe('m1');
    expect(Buffer.from(d.body).toString()).toBe('plain');
    expect(d.headers).toEqual({ x: 'y' });
    expect(d.key).toBe('g');
  });
});

describe('codec - wire format (issue 14)', () => {
  const attrs = (e: ReturnType<typeof encodeMessage>) => Object.fromEntries(Object.entries(e.attributes).map(([k, v]) => [k, v.StringValue]));

  it('wire format - id, key, reply-to, correlation id and empty headers are String attributes of their own, no sb blob', () => {
    const [m] = normalizeMessages({ id: 'o-1', key: 'c-7', body: 'x', headers: { tenant: 'acme', a: '', b: '' } });
    const e = encodeMessage(m!, { replyTo: 'rq', correlationId: 'c1' });
    expect(attrs(e)).toEqual({ tenant: 'acme', 'sb-message-id': 'o-1', 'sb-key': 'c-7', 'sb-reply-to': 'rq', 'sb-correlation-id': 'c1', 'sb-empty-headers': 'a,b' });
    expect(e.attributes[META_ATTRIBUTE]).toBeUndefined();
  });

  it('wire format - nine headers leave one attribute: the id; what has no room overflows into sb, lowest priority first', () => {
    const headers = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`h${i}`, 'v']));
    const [m] = normalizeMessages({ id: 'i9', body: 'x', headers });
    expect(attrs(encodeMessage(m!))['sb-message-id']).toBe('i9');
    const [k] = normalizeMessages({ id: 'i9', key: 'k', body: 'x', headers });
    const e = encodeMessage(k!);
    expect(Object.keys(e.attributes)).toHaveLength(10);
    expect(JSON.parse(e.attributes[META_ATTRIBUTE]!.StringValue)).toEqual({ i: 'i9', k: 'k' });
    const d = decodeMessage({ MessageId: 'sqs', Body: e.body, MessageAttributes: e.attributes });
    expect([d.id, d.key, d.headers]).toEqual(['i9', 'k', headers]);
    const [h8] = normalizeMessages({ id: 'i8', key: 'k', body: 'x', headers: Object.fromEntries(Object.entries(headers).slice(0, 8)) });
    const e8 = encodeMessage(h8!, { correlationId: 'c' });
    expect(attrs(e8)['sb-message-id']).toBe('i8');
    expect(JSON.parse(e8.attributes[META_ATTRIBUTE]!.StringValue)).toEqual({ k: 'k', c: 'c' });
  });

  it('wire format - dead-letter headers are attributes while there is room', () => {
    const [m] = normalizeMessages({ id: 'd', body: 'x', headers: { 'sb-dead-letter-reason': 'boom', 'sb-dead-letter-attempts': '3' } });
    expect(attrs(encodeMessage(m!))).toEqual({ 'sb-message-id': 'd', 'sb-dead-letter-reason': 'boom', 'sb-dead-letter-attempts': '3' });
  });

  it('decode - reads what older versions wrote (everything in sb)', () => {
    const d = decodeMessage({
      MessageId: 'sqs',
      Body: Buffer.from([0xff]).toString('base64'),
      MessageAttributes: { sb: { DataType: 'String', StringValue: JSON.stringify({ i: 'old', k: 'k', r: 'rq', c: 'c', e: 'b64', n: 5, h: { e: '' } }) }, t: { DataType: 'String', StringValue: 'v' } },
    });
    expect(d).toEqual({ id: 'old', key: 'k', replyTo: 'rq', correlationId: 'c', notBefore: 5, body: new Uint8Array([0xff]), headers: { t: 'v', e: '' } });
  });

  it('decode - typed foreign attributes: Number exactly as sent, Binary as base64: with its marker, custom types by their base type', () => {
    const d = decodeMessage({
      MessageId: 'm',
      Body: 'b',
      MessageAttributes: {
        n: { DataType: 'Number', StringValue: '1.50' },
        f: { DataType: 'Number.float', StringValue: '2.250' },
        b: { DataType: 'Binary', BinaryValue: new Uint8Array([0, 0xff]) },
        j: { DataType: 'String.json', StringValue: '{}' },
      },
    });
    expect(d.headers).toEqual({ n: '1.50', f: '2.250', b: 'base64:AP8=', j: '{}' });
  });

  it('decode - an SNS envelope on a group queue: body, attributes, and the SNS MessageId as id', () => {
    const envelope = {
      Type: 'Notification',
      MessageId: 'sns-1',
      TopicArn: 'arn:aws:sns:us-east-1:0:t',
      Message: 'hello',
      MessageAttributes: { tenant: { Type: 'String', Value: 'acme' }, bin: { Type: 'Binary', Value: 'AP8=' }, 'sb-key': { Type: 'String', Value: 'k' } },
    };
    const raw = { MessageId: 'sqs-differs-per-group', Body: JSON.stringify(envelope) };
    const d = decodeMessage(raw, { envelope: true });
    expect([d.id, d.key, new TextDecoder().decode(d.body), d.headers]).toEqual(['sns-1', 'k', 'hello', { tenant: 'acme', bin: 'base64:AP8=' }]);
    // Queues are not subscriptions: the body stays as sent.
    expect(decodeMessage(raw).id).toBe('sqs-differs-per-group');
    // A Switchboard id inside the envelope wins.
    const own = { ...envelope, MessageAttributes: { 'sb-message-id': { Type: 'String', Value: 'mine' } } };
    expect(decodeMessage({ MessageId: 'x', Body: JSON.stringify(own) }, { envelope: true }).id).toBe('mine');
  });

  it('decode - FIFO: the MessageGroupId is the key unless it is the message id (a keyless Switchboard message)', () => {
    const [m] = normalizeMessages({ id: 'only-id', body: 'x' });
    const e = encodeMessage(m!);
    expect(decodeMessage({ MessageId: 'q', Body: e.body, MessageAttributes: e.attributes, Attributes: { MessageGroupId: fifoToken('only-id') } }).key).toBeUndefined();
    expect(decodeMessage({ MessageId: 'q', Body: 'x', Attributes: { MessageGroupId: 'customer-7' } }).key).toBe('customer-7');
  });
});
