import { parseUrl, type Capabilities, type CapabilityName, type Destination } from '@switchboard/core';
import { shardOf } from '@switchboard/core/driver';
import { nanos } from '@nats-io/transport-node';
import { natsJetStreamCapabilitiesWithoutAuth, natsCoreCapabilitiesWithoutAuth, selectCapabilities } from '../src/capabilities';
import { sharedSettings, backstopMs } from '../src/jetstream-consumer';
import { assertCoreName, durableName, laneDurable, shardDurable, shardSubject, streamNames } from '../src/names';
import { MAX_PARTITIONS, resolveNatsOptions } from '../src/options';
import { isScarce, readerPrefetch, roomLeft } from '../src/partitioned-consumer';
import { groupOfDurable, messageRouter, nameCache, partitionsMismatch, PARTITIONS_METADATA, streamSubjects } from '../src/session';
import { natsCapabilitiesFor } from '../src/index';

const queue = (name: string): Destination => ({ kind: 'queue', name });
const topic = (name: string): Destination => ({ kind: 'topic', name });
const configuration = expect.objectContaining({ code: 'configuration' }) as unknown as Error;

describe('partitions - option', () => {
  it('partitions - absent by default; read from the URL; code wins', () => {
    expect(resolveNatsOptions(parseUrl('nats://h')).partitions).toBeUndefined();
    expect(resolveNatsOptions(parseUrl('nats://h?partitions=8')).partitions).toBe(8);
    expect(resolveNatsOptions(parseUrl('nats://h?partitions=8'), { partitions: 2 }).partitions).toBe(2);
    expect(resolveNatsOptions(parseUrl('nats://h'), { partitions: 1 }).partitions).toBe(1);
  });

  it('partitions - 0, negative, fractional, non-numeric or above the limit is a configuration error naming the option', () => {
    for (const bad of ['0', '-1', '1.5', 'four', String(MAX_PARTITIONS + 1)]) {
      expect(() => resolveNatsOptions(parseUrl(`nats://h?partitions=${bad}`))).toThrow(configuration);
      expect(() => resolveNatsOptions(parseUrl(`nats://h?partitions=${bad}`))).toThrow(/partitions/);
    }
    expect(() => resolveNatsOptions(parseUrl('nats://h'), { partitions: 0 })).toThrow(/partitions/);
  });

  it('partitions - core NATS has no shards: nats+core:// with partitions is a configuration error', () => {
    expect(() => resolveNatsOptions(parseUrl('nats+core://h?partitions=4'))).toThrow(configuration);
    expect(() => resolveNatsOptions(parseUrl('nats://h?mode=core&partitions=4'))).toThrow(/partitions/);
    expect(resolveNatsOptions(parseUrl('nats+core://h')).partitions).toBeUndefined();
  });
});

describe('partitions - wire format', () => {
  it('partitions - shard subjects have their own kind token, so they never meet an unpartitioned subject or another destination', () => {
    expect(shardSubject(queue('orders'), 'sb', 3)).toBe('sb.qp.orders.3');
    expect(shardSubject(topic('a.b'), 'sb', 0)).toBe('sb.tp.a.b.0');
    // queue "a.3" unpartitioned vs shard 3 of queue "a"
    expect(shardSubject(queue('a'), 'sb', 3)).not.toBe(streamNames(queue('a.3'), 'SB', 'sb').subject);
    expect(streamSubjects(queue('a'), 'sb.q.a', 'sb', 4)).toEqual(['sb.q.a', 'sb.qp.a.*']);
    expect(streamSubjects(queue('a'), 'sb.q.a', 'sb', undefined)).toEqual(['sb.q.a']);
  });

  it('partitions - a keyed message goes to shardOf(key, N); one key always to one shard', () => {
    const route = messageRouter('sb', 4, nameCache('SB', 'sb'));
    for (const key of ['customer-1', 'customer-2', 'ключ', '']) {
      expect(route(queue('q'), key)).toBe(`sb.qp.q.${shardOf(key, 4)}`);
      expect(route(queue('q'), key)).toBe(route(queue('q'), key));
    }
  });

  it('partitions - keyless messages keep the plain subject (the keyless lane), never a shard', () => {
    const route = messageRouter('sb', 3, nameCache('SB', 'sb'));
    expect(route(topic('t'), undefined)).toBe('sb.t.t');
    expect(route(queue('q'), undefined)).toBe('sb.q.q');
  });

  it('partitions - without partitions every message goes to the destination subject', () => {
    const route = messageRouter('sb', undefined, nameCache('SB', 'sb'));
    expect(route(queue('q'), 'k')).toBe('sb.q.q');
    expect(route(queue('q'), undefined)).toBe('sb.q.q');
  });

  it('partitions - shard consumers are <durable>_p<shard>, the lane <durable>_u, and the group of a topic one is still found', () => {
    expect(shardDurable(durableName(queue('q'), 'g'), 2)).toBe('mailbox_p2');
    expect(laneDurable(durableName(queue('q'), 'g'))).toBe('mailbox_u');
    for (const g of ['g1', 'billing.eu', 'a_b-c', 'p1', 'u', 'x_u']) {
      expect(groupOfDurable(topic('t'), shardDurable(durableName(topic('t'), g), 11))).toBe(g);
      expect(groupOfDurable(topic('t'), laneDurable(durableName(topic('t'), g)))).toBe(g);
      expect(groupOfDurable(topic('t'), durableName(topic('t'), g))).toBe(g);
    }
  });

  it('partitions - core mode refuses topic names on the shard subjects', () => {
    expect(() => assertCoreName(topic('sb.qp.x.1'), 'sb')).toThrow(/partitioned JetStream queue/);
    expect(() => assertCoreName(topic('sb.tp.x.1'), 'sb')).toThrow(/partitioned JetStream topic/);
  });
});

describe('partitions - mismatch and consumer settings', () => {
  it('partitions - a stream recorded with another N (or none) is refused with a configuration error; the same N passes', () => {
    expect(partitionsMismatch(queue('q'), 'SB_Q_q', '4', 4)).toBeUndefined();
    expect(partitionsMismatch(queue('q'), 'SB_Q_q', undefined, undefined)).toBeUndefined();
    const e = partitionsMismatch(queue('q'), 'SB_Q_q', '8', 4);
    expect(e?.code).toBe('configuration');
    expect(e?.message).toMatch(/partitions=8.*partitions=4/);
    expect(partitionsMismatch(queue('q'), 'SB_Q_q', undefined, 4)?.message).toMatch(/without partitions/);
    expect(partitionsMismatch(queue('q'), 'SB_Q_q', '4', undefined)?.message).toMatch(/partitions=4/);
    expect(PARTITIONS_METADATA).toBe('switchboard-partitions');
  });

  it('partitions - a shard consumer asks max_ack_pending 1 and widens an existing one to it', () => {
    expect(sharedSettings(1000, undefined, 1)).toEqual({ ack_wait: nanos(backstopMs(1000)), max_deliver: -1, max_ack_pending: 1 });
    expect(sharedSettings(1000, { ack_wait: nanos(backstopMs(1000)), max_deliver: -1, max_ack_pending: -1 }, 1)?.max_ack_pending).toBe(1);
    expect(sharedSettings(1000, { ack_wait: nanos(backstopMs(1000)), max_deliver: -1, max_ack_pending: 1 }, 1)).toBeUndefined();
  });

  it('partitions - with prefetch above N every shard keeps a slot (one held, one asked) and the keyless lane has the rest', () => {
    expect(isScarce(8, 4)).toBe(false);
    expect(readerPrefetch(8, 4, false)).toBe(2);
    expect(readerPrefetch(8, 4, true)).toBe(4);
    expect(roomLeft(8, [2, 2, 2, 2, 4], 4)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('partitions - with prefetch at or below N the readers take turns: one each, at most prefetch busy', () => {
    expect(isScarce(4, 4)).toBe(true);
    expect(isScarce(3, 4)).toBe(true);
    expect(readerPrefetch(3, 4, false)).toBe(1);
    expect(readerPrefetch(3, 4, true)).toBe(1);
    // Three busy of five with prefetch 3: an idle reader waits ...
    expect(roomLeft(3, [1, 1, 0, 1, 0], 2)).toBe(0);
    expect(roomLeft(3, [1, 1, 0, 1, 0], 4)).toBe(0);
    // ... while a busy one goes on, and an idle one starts once fewer are busy.
    expect(roomLeft(3, [1, 1, 0, 1, 0], 0)).toBe(Number.MAX_SAFE_INTEGER);
    expect(roomLeft(3, [1, 0, 0, 1, 0], 2)).toBe(1);
  });
});

describe('partitions - capabilities', () => {
  const diff = (a: Capabilities, b: Capabilities) =>
    (Object.keys(a) as CapabilityName[]).filter((k) => JSON.stringify((a as Record<string, unknown>)[k]) !== JSON.stringify((b as Record<string, unknown>)[k])).sort();

  it('partitions - per-key order is emulated (also after a nack: blocking); only the shard-related entries change', () => {
    const t = selectCapabilities('jetstream', false, 4);
    expect((t as Record<string, { level: string }>).orderingPerKey!.level).toBe('emulated');
    expect((t as Record<string, { level: string }>).orderingPerKeyAfterNack!.level).toBe('emulated');
    expect(diff(t, natsJetStreamCapabilitiesWithoutAuth)).toEqual(['competingConsumers', 'longPolling', 'orderingPerKey', 'orderingPerKeyAfterNack', 'orderingTotal', 'polling', 'prefetch']);
  });

  it('partitions - natsCapabilitiesFor follows the URL: the same table as a connection; core and unpartitioned unchanged', () => {
    expect(natsCapabilitiesFor('nats://h?partitions=4')).toBe(selectCapabilities('jetstream', false, 4));
    expect(natsCapabilitiesFor('nats://h')).toBe(natsJetStreamCapabilitiesWithoutAuth);
    expect(natsCapabilitiesFor('nats+core://h')).toBe(natsCoreCapabilitiesWithoutAuth);
    expect(JSON.stringify(natsCapabilitiesFor('nats://h?partitions=4'))).toMatch(/4 shards/);
  });
});
