import { parseUrl, SwitchboardError } from '@switchboard/core';
import { redeliveries } from '../src/codec';
import { rabbitCapabilitiesFor } from '../src/capabilities';
import { resolveRabbitOptions } from '../src/options';
import { workQueueOptions } from '../src/topology';

describe('queue type - option queueType', () => {
  it('defaults to classic; quorum from the URL or from code, code wins', () => {
    expect(resolveRabbitOptions(parseUrl('amqp://h')).options.queueType).toBe('classic');
    expect(resolveRabbitOptions(parseUrl('amqp://h?queueType=quorum')).options.queueType).toBe('quorum');
    expect(resolveRabbitOptions(parseUrl('amqp://h'), { queueType: 'quorum' }).options.queueType).toBe('quorum');
    expect(resolveRabbitOptions(parseUrl('amqp://h?queueType=quorum'), { queueType: 'classic' }).options.queueType).toBe('classic');
  });

  it('a type other than classic or quorum is a configuration error naming the option', () => {
    for (const bad of ['stream', 'Quorum', '']) {
      let err: unknown;
      try {
        resolveRabbitOptions(parseUrl(`amqp://u:secret@h?queueType=${bad}`));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SwitchboardError);
      expect((err as SwitchboardError).code).toBe('configuration');
      expect((err as Error).message).toMatch(/queueType/);
      expect((err as Error).message).not.toMatch(/secret/);
    }
    expect(() => resolveRabbitOptions(parseUrl('amqp://h'), { queueType: 'lazy' as never })).toThrow(/queueType/);
  });
});

describe('queue type - declarations', () => {
  it('classic queues carry no type argument (queues made before the option stay equivalent)', () => {
    expect(workQueueOptions('classic')).toEqual({ durable: true });
    expect(workQueueOptions('classic', { 'x-single-active-consumer': true })).toEqual({ durable: true, arguments: { 'x-single-active-consumer': true } });
  });

  it('quorum queues are durable, not exclusive or auto-delete, x-queue-type quorum, nothing quorum queues refuse', () => {
    const o = workQueueOptions('quorum', { 'x-single-active-consumer': true });
    expect(o).toEqual({ durable: true, arguments: { 'x-queue-type': 'quorum', 'x-single-active-consumer': true } });
    expect(o.exclusive).toBeUndefined();
    expect(o.autoDelete).toBeUndefined();
    expect(o.arguments).not.toHaveProperty('x-max-priority');
    expect(o.arguments).not.toHaveProperty('x-delivery-limit');
  });
});

describe('queue type - attempts counted from redeliveries', () => {
  it('a classic redelivery (flag only) counts one; a quorum x-delivery-count counts every return', () => {
    expect(redeliveries(false, undefined)).toBe(0);
    expect(redeliveries(true, undefined)).toBe(1);
    expect(redeliveries(true, 1)).toBe(1);
    expect(redeliveries(true, 3)).toBe(3);
  });

  it('a delivery count on a message that was not redelivered, or not an integer, is not trusted', () => {
    expect(redeliveries(false, 5)).toBe(0);
    expect(redeliveries(true, '7')).toBe(1);
    expect(redeliveries(true, 2.5)).toBe(1);
  });
});

describe('queue type - capabilities', () => {
  it('quorum keeps every level and names quorum queues in the mechanisms', () => {
    const classic = rabbitCapabilitiesFor({ streams: true, queueType: 'classic' });
    const quorum = rabbitCapabilitiesFor({ streams: true, queueType: 'quorum' });
    for (const k of Object.keys(classic) as (keyof typeof classic)[]) expect(quorum[k].level).toBe(classic[k].level);
    expect(JSON.stringify(quorum.mailbox)).toMatch(/quorum/);
    expect(JSON.stringify(classic.mailbox)).not.toMatch(/quorum/);
    expect(JSON.stringify(rabbitCapabilitiesFor({ streams: true, partitions: 2, queueType: 'quorum' }).crashRedelivery)).toMatch(/x-delivery-count/);
  });
});
