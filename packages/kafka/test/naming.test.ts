import { SwitchboardError } from '@switchboard/core';
import { assertTopicName, formatPosition, groupId, parsePosition, parseRef, retryTopic, TOPIC_NAME_MAX } from '@switchboard/kafka';

describe('naming - topics, groups, refs', () => {
  test('valid and invalid topic names', () => {
    expect(() => assertTopicName({ kind: 'queue', name: 'orders.v1_x-y' })).not.toThrow();
    for (const bad of ['a b', 'x/y', '.', '..', 'é', 'a'.repeat(TOPIC_NAME_MAX + 1)]) {
      let err: unknown;
      try {
        assertTopicName({ kind: 'topic', name: bad });
      } catch (e) {
        err = e;
      }
      expect(SwitchboardError.is(err, 'invalid_argument')).toBe(true);
    }
  });
  test('queues share one group; topics have one per group', () => {
    expect(groupId({ kind: 'queue', name: 'q' }, 'anything')).toBe('sb.q.queue');
    expect(groupId({ kind: 'topic', name: 't' }, 'g')).toBe('sb.t.g');
  });
  test('retry topics are valid topic names even for odd group names', () => {
    for (const g of ['g', 'a group/with:odd chars', 'x'.repeat(200)]) {
      const t = retryTopic({ kind: 'topic', name: 'y'.repeat(200) }, g);
      expect(() => assertTopicName({ kind: 'topic', name: t })).not.toThrow();
    }
    expect(retryTopic({ kind: 'topic', name: 't' }, 'a b')).not.toBe(retryTopic({ kind: 'topic', name: 't' }, 'a_b'));
  });
  test('refs parse as partition:offset or a bare offset', () => {
    expect(parseRef('2:15')).toEqual({ partition: 2, offset: 15 });
    expect(parseRef('15')).toEqual({ partition: undefined, offset: 15 });
    expect(parseRef(3)).toEqual({ partition: undefined, offset: 3 });
    expect(parseRef('x')).toBeUndefined();
  });
});

describe('position - Delivery.position and from: { position }', () => {
  test('position - formats as <partition>:<offset>@<timestamp ms>', () => {
    expect(formatPosition(2, 15, 1_764_000_000_123)).toBe('2:15@1764000000123');
    expect(formatPosition(0, 0, 0)).toBe('0:0@0');
  });
  test('position - a record without a usable timestamp has none', () => {
    expect(formatPosition(0, 3, -1)).toBeUndefined();
    expect(formatPosition(0, 3, NaN)).toBeUndefined();
  });
  test('position - parses back what it formats', () => {
    expect(parsePosition(formatPosition(1, 41, 1_764_000_000_123)!)).toEqual({ partition: 1, offset: 41, timestamp: 1_764_000_000_123 });
  });
  test('position - anything else does not parse', () => {
    for (const bad of ['', '2:15', '15', '15@1764000000123', ':15@1', '2:@1', '2:15@', '-1:15@1', '2:-15@1', '2:15@-1', '2.0:15@1', ' 2:15@1', '2:15@1 ', 'a:b@c', `2:${'9'.repeat(20)}@1`]) {
      expect(parsePosition(bad)).toBeUndefined();
    }
  });
});

describe('capabilities - tables by partitions and connectVia', () => {
  const { kafkaCapabilitiesFor, kafkaCapabilities, kafkaCapabilitiesSinglePartition } = jest.requireActual('@switchboard/kafka') as typeof import('@switchboard/kafka');
  test('partitions pick the table; bootstrap routing makes connection cuts survivable', () => {
    expect(kafkaCapabilitiesFor(3)).toBe(kafkaCapabilities);
    expect(kafkaCapabilitiesFor(1)).toBe(kafkaCapabilitiesSinglePartition);
    expect(kafkaCapabilities.orderingTotal.level).toBe('none');
    expect(kafkaCapabilitiesSinglePartition.orderingTotal.level).toBe('native');
    expect(kafkaCapabilitiesSinglePartition.competingConsumers.level).toBe('none');
    expect(kafkaCapabilities.connectionCut.level).toBe('none');
    expect(kafkaCapabilitiesFor(3, 'bootstrap').connectionCut.level).toBe('native');
  });
});
