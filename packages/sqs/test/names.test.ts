import { SwitchboardError } from '@switchboard/core';
import { assertValidDestination, fifoToken, groupQueueName, physicalName } from '@switchboard/sqs';

describe('names - destination validation and mapping', () => {
  it('maps periods to underscores except the .fifo suffix', () => {
    expect(physicalName('orders.dlq')).toEqual({ name: 'orders_dlq', fifo: false });
    expect(physicalName('orders.v1.fifo')).toEqual({ name: 'orders_v1.fifo', fifo: true });
    expect(physicalName('a', 'p-')).toEqual({ name: 'p-a', fifo: false });
  });

  it.each(['bad name', 'slash/name', 'star*', 'x'.repeat(81)])('rejects the queue name %j with invalid_argument', (name) => {
    expect(() => assertValidDestination({ kind: 'queue', name })).toThrow(SwitchboardError);
    try {
      assertValidDestination({ kind: 'queue', name });
    } catch (e) {
      expect((e as SwitchboardError).code).toBe('invalid_argument');
    }
  });

  it('allows 256-character topic names but 80-character queue names', () => {
    expect(assertValidDestination({ kind: 'topic', name: 't'.repeat(256) }).name).toHaveLength(256);
    expect(() => assertValidDestination({ kind: 'queue', name: 'q'.repeat(81) })).toThrow();
    expect(() => assertValidDestination({ kind: 'queue', name: 'q'.repeat(78) }, 'abc')).toThrow();
  });

  it('derives deterministic, valid group queue names', () => {
    const t = physicalName('events');
    expect(groupQueueName(t, 'billing').name).toBe('events--billing');
    const long = groupQueueName(physicalName('t'.repeat(200)), 'group with spaces');
    expect(long.name.length).toBeLessThanOrEqual(80);
    expect(long.name).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(groupQueueName(physicalName('t'.repeat(200)), 'group with spaces')).toEqual(long);
    expect(groupQueueName(physicalName('t'.repeat(200)), 'group with spaces!').name).not.toBe(long.name);
    const fifo = groupQueueName(physicalName('e.fifo'), 'g');
    expect(fifo).toEqual({ name: 'e--g.fifo', fifo: true });
  });

  it('makes FIFO tokens from any id', () => {
    expect(fifoToken('abc-123')).toBe('abc-123');
    expect(fifoToken('with space')).toMatch(/^[0-9a-f]{64}$/);
    expect(fifoToken('x'.repeat(200))).toHaveLength(64);
  });
});

describe('names - FIFO mode', () => {
  it('appends .fifo to every name and counts it against the limit', () => {
    expect(assertValidDestination({ kind: 'queue', name: 'orders' }, '', true)).toEqual({ name: 'orders.fifo', fifo: true });
    expect(assertValidDestination({ kind: 'queue', name: 'orders.fifo' }, '', true)).toEqual({ name: 'orders.fifo', fifo: true });
    expect(() => assertValidDestination({ kind: 'queue', name: 'q'.repeat(76) }, '', true)).toThrow();
    expect(assertValidDestination({ kind: 'queue', name: 'q'.repeat(75) }, '', true).name).toHaveLength(80);
  });
});
