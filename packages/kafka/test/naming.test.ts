import { SwitchboardError } from '@switchboard/core';
import { assertTopicName, groupId, parseRef, retryTopic, TOPIC_NAME_MAX } from '@switchboard/kafka';

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
