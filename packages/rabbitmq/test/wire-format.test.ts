import { HEADERS } from '@switchboard/core';
import type { Message, MessageProperties } from 'amqplib';
import { BYTES_PREFIX, decodeMessage, generatedId, renderDecimal, renderHeaderValue, republishOptions, SENT_AT } from '../src/codec';
import { STREAM_BINDING } from '../src/topology';

/** A message as amqplib hands it over, from a publisher that is not Switchboard. */
function foreign(headers: Record<string, unknown>, props: Partial<MessageProperties> = {}): Message {
  return {
    content: Buffer.from('body'),
    fields: { deliveryTag: 1, redelivered: false, exchange: '', routingKey: 'q' },
    properties: {
      contentType: undefined, contentEncoding: undefined, deliveryMode: undefined, priority: undefined, expiration: undefined, type: undefined, userId: undefined,
      appId: undefined, clusterId: undefined, correlationId: undefined, replyTo: undefined, messageId: undefined, timestamp: undefined, headers, ...props,
    },
  };
}

describe('wire format - typed AMQP header values arrive as documented strings', () => {
  it('renders decimals exactly, keeping their scale', () => {
    expect(renderDecimal(1, 15)).toBe('1.5');
    expect(renderDecimal(2, 150)).toBe('1.50');
    expect(renderDecimal(3, 5)).toBe('0.005');
    expect(renderDecimal(0, 100)).toBe('100');
    expect(renderDecimal(2, -5)).toBe('-0.05');
    expect(renderDecimal(2, 4294967295)).toBe('42949672.95');
    // as amqplib decodes field type D
    expect(renderHeaderValue({ '!': 'decimal', value: { places: 1, digits: 15 } })).toBe('1.5');
  });

  it('renders bytes as base64 behind a marker, every byte kept', () => {
    const raw = Buffer.from([0, 1, 0xff, 0xfe, 0x80, 0xc3, 0x28]);
    const s = renderHeaderValue(raw);
    expect(s.startsWith(BYTES_PREFIX)).toBe(true);
    expect([...Buffer.from(s.slice(BYTES_PREFIX.length), 'base64')]).toEqual([...raw]);
  });

  it('renders void as an empty string, and keeps the header', () => {
    const d = decodeMessage(foreign({ nothing: null }), 'id');
    expect(d.headers).toEqual({ nothing: '' });
  });

  it('renders numbers, booleans, timestamps, tables and arrays', () => {
    expect(renderHeaderValue(42)).toBe('42');
    expect(renderHeaderValue(-7)).toBe('-7');
    expect(renderHeaderValue(2.25)).toBe('2.25');
    expect(renderHeaderValue(true)).toBe('true');
    expect(renderHeaderValue({ '!': 'timestamp', value: 1_700_000_000 })).toBe('1700000000');
    expect(renderHeaderValue({ a: 1, b: 'x', c: { '!': 'decimal', value: { places: 2, digits: 5 } }, d: null, e: Buffer.from([0xff]) })).toBe('{"a":1,"b":"x","c":"0.05","d":null,"e":"base64:/w=="}');
    expect(renderHeaderValue([1, 'two', null, { '!': 'timestamp', value: 5 }])).toBe('[1,"two",null,5]');
  });
});

describe('wire format - ids of foreign messages', () => {
  it('gives a message without message_id an id no other message shares, even from the same delivery tag', () => {
    // Delivery tags restart per channel: three sessions all saw tag 1.
    const ids = [1, 2, 3].map(() => decodeMessage(foreign({}), generatedId('q')).id);
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^q#[0-9a-f-]{36}$/);
  });

  it('treats an empty message_id as none', () => {
    expect(decodeMessage(foreign({}, { messageId: '' }), 'generated').id).toBe('generated');
  });

  it('keeps a generated id across a retry: the republished copy carries it as message_id', () => {
    const id = generatedId('q');
    const again = republishOptions(foreign({ a: 'b' }), 2, {}, id);
    expect(again.messageId).toBe(id);
    expect(decodeMessage(foreign(again.headers as Record<string, unknown>, { messageId: again.messageId }), generatedId('q')).id).toBe(id);
  });

  it('never replaces a message_id the publisher gave, nor one carried in sb-message-id', () => {
    expect(republishOptions(foreign({}, { messageId: 'theirs' }), 2, {}, 'other').messageId).toBe('theirs');
    expect(republishOptions(foreign({ [HEADERS.messageId]: 'long' }), 2, {}, 'other').messageId).toBeUndefined();
  });
});

describe('wire format - retention stream binding', () => {
  it('retains only messages that carry sb-ts (a void binding value matches presence), never everything', () => {
    expect(STREAM_BINDING).toEqual({ 'x-match': 'all', [SENT_AT]: null });
  });
});
