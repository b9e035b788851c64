import { Destination } from '@switchboard/core';
import { decodeRecord, foreignId } from '../src/records';
import { groupOf } from '../src/session';
import { groupId } from '../src/naming';

const record = (offset: string, timestamp: string, headers: Record<string, Buffer | Buffer[]> = {}) =>
  ({ key: null, value: Buffer.from('x'), timestamp, attributes: 0, offset, headers }) as never;

describe('kafka records', () => {
  test('foreign ids - a record without sb-message-id gets <topic>:<partition>:<offset>@<timestamp>', () => {
    expect(decodeRecord('orders.sb-queue', 2, record('41', '1764000000123')).id).toBe('orders.sb-queue:2:41@1764000000123');
    expect(foreignId('a', 1, 5, '9')).toBe('a:1:5@9');
  });

  test('foreign ids - a topic deleted and created again (offsets restart at 0) gives its records new ids', () => {
    // The timestamp of the record at offset 0 differs.
    expect(decodeRecord('t', 0, record('0', '1000')).id).not.toBe(decodeRecord('t', 0, record('0', '2000')).id);
  });

  test('foreign ids - an sb-message-id header wins', () => {
    expect(decodeRecord('t', 0, record('7', '1', { 'sb-message-id': Buffer.from('m-1') })).id).toBe('m-1');
  });

  test('headers - a name repeated in one record keeps its last value (kafkajs gives an array)', () => {
    const r = decodeRecord('t', 0, record('1', '1', { tenant: [Buffer.from('first'), Buffer.from('last')] }));
    expect(r.headers.tenant).toBe('last');
  });

  test('admin - groupOf finds exactly the groups groupId made for a destination', () => {
    const a: Destination = { kind: 'topic', name: 'a' };
    const ab: Destination = { kind: 'topic', name: 'a.b' };
    expect(groupOf(a, groupId(a, 'g'))).toBe('g');
    expect(groupOf(a, groupId(a, 'x.y'))).toBe('x.y');
    expect(groupOf(a, groupId(ab, 'c'))).toBeUndefined(); // sb.a.b.c is topic a.b's
    expect(groupOf(a, groupId(ab, 'c.d'))).toBeUndefined(); // sb.a.b:c.d
    expect(groupOf(ab, groupId(a, 'b'))).toBeUndefined();
    const q: Destination = { kind: 'queue', name: 'a' };
    expect(groupOf(q, groupId(q, 'whatever'))).toBe('queue');
    expect(groupOf(q, 'sb.a.sb-queue.other')).toBeUndefined();
    expect(groupOf(a, 'sb-reply.sb.reply.0123')).toBeUndefined();
  });
});
