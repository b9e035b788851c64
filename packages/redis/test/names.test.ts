import { decodeFields, encodeFields, idBefore, keysOf, startId } from '../src/names';

describe('names - keys, wire format, start ids', () => {
  it('keys - a queue shares one group; topic groups get due sets of their own; kinds never share a stream', () => {
    expect(keysOf('sb', { kind: 'queue', name: 'jobs' }, 'g1')).toEqual({ stream: 'sb:q:jobs', group: 'sb', due: 'sb:due:sb:q:jobs|sb', from: 'sb:from:sb:q:jobs|sb' });
    expect(keysOf('sb', { kind: 'queue', name: 'jobs' }, 'g2').group).toBe('sb');
    expect(keysOf('sb', { kind: 'topic', name: 'jobs' }, 'g1')).toEqual({ stream: 'sb:t:jobs', group: 'g1', due: 'sb:due:sb:t:jobs|g1', from: 'sb:from:sb:t:jobs|g1' });
    // a.b + c against a + b.c: the stream part has no "|", so the composite cannot collide.
    expect(keysOf('sb', { kind: 'topic', name: 'a.b' }, 'c').due).not.toBe(keysOf('sb', { kind: 'topic', name: 'a' }, 'b.c').due);
  });

  it('wire format - bytes, id, key, reply metadata and headers survive a round trip', () => {
    const body = new Uint8Array([0, 255, 128]);
    const fields = encodeFields({ id: 'm1', body, key: 'k', headers: { a: '1', 'h:x': 'y' }, delayMs: undefined }, { replyTo: 'inbox', correlationId: 'c' });
    const d = decodeFields('1700000000000-3', fields.map((f) => Buffer.from(f)));
    expect(d).toEqual({ id: 'm1', body: new Uint8Array(body), key: 'k', headers: { a: '1', 'h:x': 'y' }, replyTo: 'inbox', correlationId: 'c', timestamp: new Date(1700000000000) });
  });

  it('wire format - a foreign entry without sb-id takes its entry id; headers given replace the own ones', () => {
    expect(decodeFields('5-1', [Buffer.from('body'), Buffer.from('x')]).id).toBe('5-1');
    const fields = encodeFields({ id: 'i', body: new Uint8Array(), key: undefined, headers: { a: '1' }, delayMs: undefined }, undefined, { b: '2' });
    expect(decodeFields('1-0', fields.map((f) => Buffer.from(f))).headers).toEqual({ b: '2' });
  });

  it('wire format - field names match exactly: near misses and foreign fields are ignored, header names keep UTF-8', () => {
    const b = (s: string) => Buffer.from(s);
    const d = decodeFields('1700000000001-0', [b('bodY'), b('no'), b('sb-idx'), b('no'), b('sb-i'), b('no'), b('h'), b('no'), b('h:grüße'), b('ü'), b('body'), b('yes'), b('sb-id'), b('m7'), b('other'), b('z')]);
    expect(d).toEqual({ id: 'm7', body: new Uint8Array(b('yes')), key: undefined, headers: { grüße: 'ü' }, replyTo: undefined, correlationId: undefined, timestamp: new Date(1700000000001) });
    expect(decodeFields('42', [b('body'), b('x')]).timestamp).toEqual(new Date(42));
  });

  it('start ids - inclusive positions become the id just before; latest, earliest and timestamps', () => {
    expect(idBefore('10-5')).toBe('10-4');
    expect(idBefore('10-0')).toBe('9-18446744073709551615');
    expect(idBefore('0-0')).toBe('0');
    expect(() => idBefore('x')).toThrow();
    expect(startId('latest')).toBe('$');
    expect(startId('earliest')).toBe('0');
    expect(startId({ position: '7-2' })).toBe('7-1');
    expect(startId({ offset: 7 })).toBe('6-18446744073709551615');
    expect(startId({ timestamp: new Date(1000) })).toBe('999-18446744073709551615');
    expect(startId({ timestamp: 0 })).toBe('0');
  });
});
