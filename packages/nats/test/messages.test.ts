import { HEADERS, SwitchboardError } from '@switchboard/core';
import { normalizeMessages } from '@switchboard/core/driver';
import { assertWireSize, buildHeaders, matchesFilter, parsePubAck, readHeaders } from '../src/messages';
import type { Msg } from '@nats-io/nats-core';

describe('messages - headers on the wire and back', () => {
  it('round-trips user headers, id, key, reply-to and correlation id, hiding the adapter\'s own', () => {
    const [m] = normalizeMessages({ id: 'm-1', body: 'x', key: 'k-ä', headers: { 'x-a': 'grüße ✓', 'x-space': ' ', 'x-nl': 'a\r\nb' } });
    const h = buildHeaders(m!, { replyTo: '_INBOX.r', correlationId: 'c-1' }, true);
    expect(h.get('Nats-Msg-Id')).toBe('m-1');
    expect(h.get(HEADERS.messageId)).toBe('m-1');
    const r = readHeaders(h);
    expect(r.user).toEqual({ 'x-a': 'grüße ✓', 'x-space': ' ', 'x-nl': 'a\r\nb' });
    expect(r).toMatchObject({ id: 'm-1', key: 'k-ä', replyTo: '_INBOX.r', correlationId: 'c-1', notBefore: undefined });
  });

  it('read - one pass over the header map: never the per-name get/has/values/keys (each copies and filters the key list)', () => {
    const [m] = normalizeMessages({ id: 'm-2', body: 'x', headers: { 'x-a': '1', 'x-nl': 'a\nb' } });
    const h = buildHeaders(m!, {}, true);
    const onlyIterable = { [Symbol.iterator]: () => h[Symbol.iterator]() };
    for (const k of ['get', 'has', 'values', 'keys', 'last']) {
      Object.defineProperty(onlyIterable, k, {
        value: () => {
          throw new Error(`readHeaders called ${k}`);
        },
      });
    }
    const r = readHeaders(onlyIterable as unknown as typeof h);
    expect(r.user).toEqual({ 'x-a': '1', 'x-nl': 'a\nb' });
    expect(r.id).toBe('m-2');
  });

  it('pub ack - the stream sequence of a PubAck; 503, API errors and anything else are typed errors', () => {
    const msg = (body: string, code?: number) => ({ data: new TextEncoder().encode(body), headers: code === undefined ? undefined : { code } }) as unknown as Msg;
    expect(parsePubAck(msg('{"stream":"SB_Q_x","seq":42}'))).toBe(42);
    expect(parsePubAck(msg('{"stream":"SB_Q_x","seq":7,"duplicate":true}'))).toBe(7);
    const codeOf = (m: Msg) => {
      try {
        parsePubAck(m);
      } catch (err) {
        return err instanceof SwitchboardError ? err.code : 'not typed';
      }
      return 'no error';
    };
    expect(codeOf(msg('', 503))).toBe('no_responders');
    expect(codeOf(msg('{"error":{"code":404,"err_code":10059,"description":"stream not found"}}'))).toBe('not_found');
    expect(codeOf(msg('{"error":{"code":500,"err_code":10077,"description":"maximum messages exceeded"}}'))).toBe('internal');
    expect(codeOf(msg('not json'))).toBe('internal');
    expect(codeOf(msg('{"seq":1}'))).toBe('internal');
  });

  it('refuses a message over max_payload counting headers and body', () => {
    const [m] = normalizeMessages({ body: new Uint8Array(1000) });
    const h = buildHeaders(m!);
    expect(() => assertWireSize(m!, h, 2000, 0)).not.toThrow();
    let err: unknown;
    try {
      assertWireSize(m!, h, 1000, 0);
    } catch (e) {
      err = e;
    }
    expect((err as SwitchboardError).code).toBe('payload_too_large');
  });

  it('filters on exact header values', () => {
    expect(matchesFilter({ color: 'red', size: 'l' }, { color: 'red' })).toBe(true);
    expect(matchesFilter({ color: 'blue' }, { color: 'red' })).toBe(false);
    expect(matchesFilter({}, undefined)).toBe(true);
  });
});
