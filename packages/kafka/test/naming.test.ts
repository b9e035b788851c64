import { SwitchboardError } from '@switchboard/core';
import type { Destination } from '@switchboard/core';
import {
  assertKafkaTopic,
  assertTopicName,
  collisionForm,
  describeTopic,
  formatPosition,
  groupId,
  kafkaTopic,
  legacyGroupId,
  parsePosition,
  parseRef,
  QUEUE_NAME_MAX,
  replyGroupId,
  replyTopic,
  retryTopic,
  TOPIC_NAME_MAX,
} from '@switchboard/kafka';

const invalid = (f: () => void): SwitchboardError | undefined => {
  try {
    f();
  } catch (e) {
    return SwitchboardError.is(e, 'invalid_argument') ? e : undefined;
  }
  return undefined;
};

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
    expect(groupId({ kind: 'queue', name: 'q' }, 'anything')).toBe('sb.q.sb-queue.queue');
    expect(groupId({ kind: 'topic', name: 't' }, 'g')).toBe('sb.t.g');
  });
  test('retry topics are valid topic names even for odd group names', () => {
    for (const g of ['g', 'a group/with:odd chars', 'x'.repeat(200)]) {
      const t = retryTopic({ kind: 'topic', name: 'y'.repeat(200) }, g);
      expect(() => assertKafkaTopic(t)).not.toThrow();
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

describe('naming - distinct names never share a Kafka object', () => {
  const q = (name: string): Destination => ({ kind: 'queue', name });
  const t = (name: string): Destination => ({ kind: 'topic', name });

  test('naming - topics, topic groups and their retry topics map as in earlier versions', () => {
    expect(kafkaTopic(t('orders.v1_x-y'))).toBe('orders.v1_x-y');
    expect(groupId(t('orders'), 'billing_v2')).toBe('sb.orders.billing_v2');
    expect(retryTopic(t('orders'), 'billing_v2')).toBe('orders.sb-retry.billing_v2');
    expect(retryTopic(t('t'), 'a b')).toBe(`t.sb-retry.a_b-${retryTopic(t('t'), 'a b').slice(-8)}`);
    expect(legacyGroupId(t('orders'), 'billing_v2')).toBeUndefined();
  });

  test('naming - queue:x and topic:x have their own Kafka topic, group and retry topic', () => {
    expect(kafkaTopic(q('x'))).toBe('x.sb-queue');
    expect(kafkaTopic(t('x'))).toBe('x');
    expect(groupId(q('x'), 'queue')).not.toBe(groupId(t('x'), 'queue'));
    expect(retryTopic(q('x'), 'queue')).not.toBe(retryTopic(t('x'), 'queue'));
    // an old queue x (Kafka topic x, group sb.x.queue, retry x.sb-retry.queue) is now topic:x, group "queue"
    expect([groupId(t('x'), 'queue'), retryTopic(t('x'), 'queue')]).toEqual(['sb.x.queue', 'x.sb-retry.queue']);
  });

  test('naming - topic "a.b" group "c" and topic "a" group "b.c" get different group ids', () => {
    expect(groupId(t('a.b'), 'c')).toBe('sb.a.b.c');
    expect(groupId(t('a'), 'b.c')).toBe('sb.a:b.c');
    expect(legacyGroupId(t('a'), 'b.c')).toBe('sb.a.b.c');
  });

  test('naming - groups differing only in "." vs "_" get retry topics Kafka keeps apart', () => {
    const a = retryTopic(t('t'), 'b.c');
    const b = retryTopic(t('t'), 'b_c');
    expect(collisionForm(a)).not.toBe(collisionForm(b));
    expect(() => assertKafkaTopic(a)).not.toThrow();
  });

  test('naming - long names differing only at the end keep distinct retry topics', () => {
    const base = 'n'.repeat(TOPIC_NAME_MAX - 1);
    const [x, y] = [t(`${base}a`), t(`${base}b`)];
    expect(retryTopic(x, 'g')).not.toBe(retryTopic(y, 'g'));
    expect(retryTopic(x, 'g').length).toBeLessThanOrEqual(TOPIC_NAME_MAX);
    const g = 'g'.repeat(199);
    expect(retryTopic(x, `${g}1`)).not.toBe(retryTopic(x, `${g}2`));
  });

  test('naming - a queue name is at most 240 characters, and the error says why', () => {
    expect(() => assertTopicName(q('q'.repeat(QUEUE_NAME_MAX)))).not.toThrow();
    expect(() => assertTopicName(t('t'.repeat(TOPIC_NAME_MAX)))).not.toThrow();
    const e = invalid(() => assertTopicName(q('q'.repeat(QUEUE_NAME_MAX + 1))));
    expect(e?.message).toMatch(/at most 240.*sb-queue.*249/);
    expect(invalid(() => assertTopicName(t('t'.repeat(TOPIC_NAME_MAX + 1))))?.message).toMatch(/at most 249/);
  });

  test('naming - names in the shape of the adapter\'s own topics are invalid_argument', () => {
    for (const name of ['x.sb-retry.g', 'x_sb-retry_g', 'x.sb-queue', 'sb-queue', 'a_sb-queue.b', 'sb.reply.0123456789abcdef', 'sb_reply_x', 'sb.reply_x']) {
      expect(invalid(() => assertTopicName(t(name)))?.message).toMatch(/reserved/);
      expect(invalid(() => assertTopicName(q(name)))?.message).toMatch(/reserved/);
    }
    for (const name of ['sb-retry-x', 'xsb-queue', 'sb.replyx', 'my.sb-retryx', 'sb.replies']) expect(() => assertTopicName(t(name))).not.toThrow();
  });

  test('naming - reply topics are raw Kafka names with a group id no user group has', () => {
    const r = replyTopic('0123456789abcdef');
    expect(() => assertKafkaTopic(r)).not.toThrow();
    expect(invalid(() => assertTopicName(t(r)))).toBeDefined();
    expect(replyGroupId(r).startsWith('sb.')).toBe(false);
  });

  test('naming - describeTopic names Kafka topics in the user\'s terms', () => {
    expect(describeTopic('x.sb-queue')).toMatch(/^queue:x /);
    expect(describeTopic('x.y')).toBe('topic:x.y');
    expect(describeTopic('x.sb-retry.g')).toMatch(/^retry topic/);
  });

  test('naming - every Kafka topic and group id of distinct names is distinct (Kafka\'s "." = "_" rule included)', () => {
    const parts = ['a', 'b', '.', '_', '-', 'sb-retry', 'sb-queue', 'queue', 'sb', 'reply', '0123abcd', 'c'];
    const names = new Set<string>();
    for (const x of parts) for (const y of parts) for (const z of parts) names.add(`${x}${y}${z}`);
    const dests: Destination[] = [];
    for (const name of names) for (const d of [q(name), t(name)]) if (!invalid(() => assertTopicName(d))) dests.push(d);
    const groups = ['g', 'queue', 'b.c', 'b_c', 'b-c', 'x y', 'x_y', 'c.sb-retry.d', 'a-0123abcd', 'default'];
    // Kafka itself refuses to create a second user topic equal to the first in "." = "_" form
    // (reported by Topics as invalid_argument); among the user topics that can coexist, every derived
    // object must be its own.
    const byForm = new Map<string, Destination>();
    for (const d of dests) if (!byForm.has(collisionForm(kafkaTopic(d)))) byForm.set(collisionForm(kafkaTopic(d)), d);
    const coexisting = [...byForm.values()];
    const topics = new Map<string, string>();
    const groupIds = new Map<string, string>();
    const claim = (m: Map<string, string>, key: string, owner: string) => {
      const prev = m.get(key);
      if (prev !== undefined && prev !== owner) throw new Error(`${owner} and ${prev} share ${key}`);
      m.set(key, owner);
    };
    for (const d of coexisting) {
      const who = `${d.kind}:${d.name}`;
      claim(topics, collisionForm(kafkaTopic(d)), who);
      for (const g of d.kind === 'queue' ? ['queue'] : groups) {
        claim(topics, collisionForm(retryTopic(d, g)), `${who} group ${g} (retry)`);
        claim(groupIds, groupId(d, g), `${who} group ${g}`);
      }
    }
    claim(topics, collisionForm(replyTopic('0123456789abcdef')), 'reply');
    expect(coexisting.length).toBeGreaterThan(500);
  });
});
