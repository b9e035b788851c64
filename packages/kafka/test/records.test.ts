import { Destination } from '@switchboard/core';
import { HEADERS } from '@switchboard/core';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { decodeRecord, encodeRecord, foreignId } from '../src/records';
import { groupOf, partitionChooser } from '../src/session';
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

  test('decode - the body is a view of the fetched buffer, not a copy', () => {
    const fetched = Buffer.from('..hello..');
    const value = fetched.subarray(2, 7);
    const r = decodeRecord('t', 0, { key: null, value, timestamp: '1', attributes: 0, offset: '3', headers: {} } as never);
    expect(Buffer.from(r.value).toString()).toBe('hello');
    expect(r.value.buffer).toBe(fetched.buffer);
    expect(r.value.byteOffset).toBe(value.byteOffset);
  });

  test('decode - internal headers go to their fields, the rest to one application header map', () => {
    const r = decodeRecord(
      't',
      0,
      record('5', '9', {
        [HEADERS.messageId]: Buffer.from('m'),
        [HEADERS.attempt]: Buffer.from('3'),
        [HEADERS.replyTo]: Buffer.from('r'),
        [HEADERS.correlationId]: Buffer.from('c'),
        'sb-origin-ref': Buffer.from('1:2'),
        'sb-origin-topic': Buffer.from('o'),
        'sb-origin-timestamp': Buffer.from('8'),
        'sb-dead-letter-reason': Buffer.from('kept'),
        app: Buffer.from('v'),
      }),
    );
    expect(r).toMatchObject({ id: 'm', attempt: 3, replyTo: 'r', correlationId: 'c', originRef: '1:2', originTopic: 'o', originTimestamp: 8, offset: 5 });
    expect(r.headers).toEqual({ 'sb-dead-letter-reason': 'kept', app: 'v' });
    const plain = decodeRecord('t', 1, record('5', '9'));
    expect(plain).toMatchObject({ originRef: '1:5', originTopic: 't', originTimestamp: 9, replyTo: undefined, attempt: 1 });
  });

  test('encode - a plain send carries exactly one header of its own (sb-message-id) and the body uncopied', () => {
    const body = new Uint8Array([1, 2, 3]);
    const e = encodeRecord({ id: 'id-1', body, key: undefined, headers: { a: 'b' }, delayMs: undefined }, 2);
    expect(e.message.headers).toEqual({ a: 'b', [HEADERS.messageId]: 'id-1' });
    expect((e.message.value as Buffer).buffer).toBe(body.buffer);
    expect(e.partition).toBe(2);
    expect(e.size).toBe(3 + 'a'.length + 'b'.length + 2 + HEADERS.messageId.length + 'id-1'.length + 2);
  });

  test('encode - a message the broker names goes without sb-message-id, stamped with the time given, and counts no id bytes', () => {
    const e = encodeRecord({ id: 'generated', idGenerated: true, body: new Uint8Array(3), key: undefined, headers: { a: 'b' }, delayMs: undefined }, 0, undefined, '1700000000123');
    expect(e.message.headers).toEqual({ a: 'b' });
    expect(e.message.timestamp).toBe('1700000000123');
    expect(e.stamp).toBe('1700000000123');
    expect(e.size).toBe(3 + 'a'.length + 'b'.length + 2);
  });

  test('partitions - the metadata kafkajs reads is built once per partition count, and picks as kafkajs does', () => {
    const seen = new Set<PartitionMetadata[]>();
    const kafkajs = Partitioners.DefaultPartitioner();
    const spy: typeof kafkajs = (args) => {
      seen.add(args.partitionMetadata);
      return kafkajs(args);
    };
    const choose = partitionChooser(() => spy);
    const reference = Partitioners.DefaultPartitioner();
    const meta = Array.from({ length: 3 }, (_, i) => ({ partitionErrorCode: 0, partitionId: i, leader: 0, replicas: [0], isr: [0] }));
    for (const key of ['a', 'b', 'order-17', 'x']) expect(choose('t', 3, key)).toBe(reference({ topic: 't', partitionMetadata: meta, message: { key, value: null } }));
    choose('u', 6, 'a');
    expect(seen.size).toBe(2);
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
