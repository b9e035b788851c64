import { createHash } from 'node:crypto';
import { toDestination } from '@switchboard/core';
import { assertRabbitName, delayQueueName, groupPart, groupQueueName, groupRegistryName, offsetQueueName, streamQueueName } from '../src/names';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
const check = (name: string) => () => assertRabbitName(toDestination(name));

describe('names - destination names map to their own broker objects', () => {
  it('keeps the names that were collision-free before (data stays readable)', () => {
    expect(groupQueueName('orders', 'billing')).toBe('orders@billing');
    expect(streamQueueName('orders')).toBe('orders@@stream');
    expect(offsetQueueName('orders', 'billing')).toBe('orders@billing@@offset');
    expect(groupQueueName('orders', 'a group!')).toBe(`orders@h-${createHash('sha1').update('a group!').digest('hex')}`);
    expect(delayQueueName({ exchange: '', routingKey: 'jobs' }, 500)).toBe('sb.delay.500.q.jobs');
    expect(delayQueueName({ exchange: 'orders', routingKey: '' }, 500)).toBe('sb.delay.500.x.orders');
  });

  it('topic + group composites do not collide (a.b + c vs a + b.c)', () => {
    expect(groupQueueName('a.b', 'c')).not.toBe(groupQueueName('a', 'b.c'));
    expect(groupQueueName('a', 'b@c')).not.toBe(groupQueueName('a@b', 'c'));
  });

  it('x.y, x_y, x-y and case stay distinct (no character is mapped)', () => {
    const names = ['x.y', 'x_y', 'x-y', 'x:y', 'x/y', 'Ab', 'ab'];
    expect(new Set(names.map((n) => groupQueueName(n, 'g'))).size).toBe(names.length);
    expect(new Set(names.map((g) => groupQueueName('t', g))).size).toBe(names.length);
  });

  it('a group spelled like a hashed group is hashed too, so it cannot take that group\'s queue', () => {
    const hashed = groupPart('weird group');
    expect(hashed).toMatch(/^h-[0-9a-f]{40}$/);
    expect(groupQueueName('t', hashed)).not.toBe(groupQueueName('t', 'weird group'));
    expect(groupPart('h-123')).toBe('h-123');
  });

  it('long names differing at the end stay distinct', () => {
    const a = 'n'.repeat(199) + 'a';
    const b = 'n'.repeat(199) + 'b';
    const g1 = 'g'.repeat(49) + '1';
    const g2 = 'g'.repeat(49) + '2';
    const long = 'G'.repeat(60);
    const all = [groupQueueName(a, g1), groupQueueName(b, g1), groupQueueName(a, g2), groupQueueName(a, long), groupQueueName(a, long + 'x')];
    expect(new Set(all).size).toBe(all.length);
    const offsets = [offsetQueueName(a, g1), offsetQueueName(a, g2), offsetQueueName(b, g1), offsetQueueName(a, long)];
    expect(new Set(offsets).size).toBe(offsets.length);
  });

  it('every derived name of the longest inputs fits 255 bytes', () => {
    const topic = 't'.repeat(200);
    for (const group of ['g'.repeat(50), 'é'.repeat(200), 'default', 'h-' + 'a'.repeat(40)]) {
      for (const n of [groupQueueName(topic, group), offsetQueueName(topic, group), streamQueueName(topic), groupRegistryName(topic)]) expect(bytes(n)).toBeLessThanOrEqual(255);
    }
    expect(offsetQueueName(topic, 'g'.repeat(50))).toMatch(/^t{200}@h-[0-9a-f]{40}@@offset$/);
    expect(bytes(delayQueueName({ exchange: '', routingKey: groupQueueName(topic, 'g'.repeat(50)) }, 2 ** 31))).toBeLessThanOrEqual(255);
  });

  it('derived names never equal a name a user can give, nor each other', () => {
    // A destination name has no "@" and cannot start with "sb.delay."; group, stream and offset queues all contain "@".
    expect(check('sb.delay.500.q.jobs')).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(check('topic:sb.delay.1.x.t')).toThrow(/sb\.delay\./);
    expect(check('orders@billing')).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(check('amq.foo')).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(check('sb.delayed')).not.toThrow();
    expect(check('sb-delay.1')).not.toThrow();
    expect(check('n'.repeat(201))).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    const t = 'orders';
    const derived = [groupQueueName(t, 'stream'), streamQueueName(t), offsetQueueName(t, 'g'), groupQueueName(t, 'g@@offset'), groupQueueName(t, '@stream'), groupRegistryName(t), groupQueueName(t, '@groups'), groupQueueName(t, 'groups')];
    expect(new Set(derived).size).toBe(derived.length);
  });
});
