import { HEADERS } from '@switchboard/core';
import { normalizeMessages } from '@switchboard/core/driver';
import type { Message } from 'amqplib';
import { decodeMessage, publishOptions, republishOptions, SENT_AT } from '../src/codec';

function received(options: ReturnType<typeof publishOptions>, redelivered = false, content = Buffer.from('hi')): Message {
  return {
    content,
    fields: { deliveryTag: 7, redelivered, exchange: '', routingKey: 'q' },
    properties: {
      contentType: undefined, contentEncoding: undefined, deliveryMode: 2, priority: undefined, expiration: undefined, type: undefined, userId: undefined, appId: undefined, clusterId: undefined,
      headers: options.headers, correlationId: options.correlationId, replyTo: options.replyTo, messageId: options.messageId, timestamp: options.timestamp,
    },
  };
}

describe('codec - message encoding round trip', () => {
  const [m] = normalizeMessages({ id: 'm-1', body: new Uint8Array([0, 255, 1]), key: 'k-ä', headers: { 'x-plain': 'v', color: 'red' } });

  it('keeps id, key and headers, hides internal headers, attempt 1 on first delivery', () => {
    const o = publishOptions(m!);
    expect(o.persistent).toBe(true);
    const d = decodeMessage(received(o), 'fallback');
    expect(d.id).toBe('m-1');
    expect(d.key).toBe('k-ä');
    expect(d.headers).toEqual({ 'x-plain': 'v', color: 'red' });
    expect(d.attempt).toBe(1);
    expect(Math.abs(d.timestamp.getTime() - Date.now())).toBeLessThan(5000);
    expect(Object.keys(o.headers)).toContain(SENT_AT);
  });

  it('counts a broker redelivery and a republished attempt', () => {
    expect(decodeMessage(received(publishOptions(m!)), 'x').attempt).toBe(1);
    expect(decodeMessage(received(publishOptions(m!), true), 'x').attempt).toBe(2);
    const first = received(publishOptions(m!));
    const retried = received(republishOptions(first, 3) as ReturnType<typeof publishOptions>);
    expect(decodeMessage(retried, 'x').attempt).toBe(3);
  });

  it('drops broker headers (x-death) when republishing and adds dead-letter headers', () => {
    const o = publishOptions(m!);
    const msg = received({ ...o, headers: { ...o.headers, 'x-death': [{ count: 1 }], [HEADERS.attempt]: '2' } });
    const r = republishOptions(msg, 1, { [HEADERS.deadLetterReason]: 'boom' });
    expect(r.headers['x-death']).toBeUndefined();
    expect(r.headers[HEADERS.attempt]).toBeUndefined();
    expect(r.headers[HEADERS.deadLetterReason]).toBe('boom');
    expect(r.messageId).toBe('m-1');
    const d = decodeMessage(received(r as ReturnType<typeof publishOptions>), 'x');
    expect(d.headers).toEqual({ 'x-plain': 'v', color: 'red', [HEADERS.deadLetterReason]: 'boom' });
  });

  it('sets reply-to, correlation id and expiration for requests', () => {
    const o = publishOptions(m!, { replyTo: 'amq.rabbitmq.reply-to', correlationId: 'c-1', expiration: 1000 });
    expect(o).toMatchObject({ replyTo: 'amq.rabbitmq.reply-to', correlationId: 'c-1', expiration: '1000' });
    const d = decodeMessage(received(o), 'x');
    expect(d.replyTo).toBe('amq.rabbitmq.reply-to');
    expect(d.correlationId).toBe('c-1');
  });

  it('turns non-string header values into text (bytes as base64 with its marker)', () => {
    const o = publishOptions(m!);
    const d = decodeMessage(received({ ...o, headers: { n: 5, b: Buffer.from('buf'), t: true } }), 'fallback');
    expect(d.headers).toEqual({ n: '5', b: 'base64:YnVm', t: 'true' });
  });
});

describe('codec - a send carries only what has information (no per-message header table on a plain queue send)', () => {
  const plain = normalizeMessages({ id: 'm-2', body: 'b' })[0]!;
  const withHeaders = normalizeMessages({ id: 'm-3', body: 'b', headers: { color: 'red' } })[0]!;

  it('a queue send without headers or key has no headers table; its time is the timestamp property', () => {
    const o = publishOptions(plain, { stamp: false });
    expect(o.headers).toBeUndefined();
    expect(o.messageId).toBe('m-2');
    const d = decodeMessage(received(o), 'x');
    expect(d.id).toBe('m-2');
    expect(d.headers).toEqual({});
    expect(d.timestamp.getTime()).toBe(o.timestamp! * 1000);
  });

  it('a queue send with headers and nothing added passes the message headers as they are (no copy)', () => {
    const o = publishOptions(withHeaders, { stamp: false });
    expect(o.headers).toBe(withHeaders.headers);
    expect(withHeaders.headers).toEqual({ color: 'red' });
  });

  it('a topic send (stamp, the default) adds sb-ts to a copy, leaving the message headers alone', () => {
    const o = publishOptions(withHeaders);
    expect(o.headers).not.toBe(withHeaders.headers);
    expect(Object.keys(o.headers)).toEqual(['color', SENT_AT]);
    expect(withHeaders.headers).toEqual({ color: 'red' });
  });

  it('decodeMessage makes a fallback id only for a message without message_id', () => {
    const fallback = jest.fn(() => 'generated');
    expect(decodeMessage(received(publishOptions(plain, { stamp: false })), fallback).id).toBe('m-2');
    expect(fallback).not.toHaveBeenCalled();
    expect(decodeMessage(received({ ...publishOptions(plain, { stamp: false }), messageId: undefined }), fallback).id).toBe('generated');
    expect(fallback).toHaveBeenCalledTimes(1);
  });
});
