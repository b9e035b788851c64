import { parseUrl, SwitchboardError } from '@switchboard/core';
import { fnv1a32 } from '@switchboard/core/driver';
import { rabbitCapabilities, rabbitCapabilitiesFor, rabbitCapabilitiesWithoutStreams } from '../src/capabilities';
import { assertSendable, decodeMessage, encodedTableSize, publishOptions, SHARD_HEADER } from '../src/codec';
import { AMQP_NAME_BYTES, groupQueueName, shardQueueName } from '../src/names';
import { resolveRabbitOptions } from '../src/options';
import { fairShare, ShardRouter, shardsToRelease } from '../src/partitions';
import type { Message } from 'amqplib';
import type { NormalizedMessage } from '@switchboard/core/driver';

const problemsOf = (url: string, o = {}): string[] => {
  try {
    resolveRabbitOptions(parseUrl(url), o);
  } catch (err) {
    expect(SwitchboardError.is(err, 'configuration')).toBe(true);
    return (err as SwitchboardError).details.problems as string[];
  }
  return [];
};

describe('partitions - option', () => {
  it('is absent by default: unpartitioned', () => {
    expect(resolveRabbitOptions(parseUrl('amqp://h')).options.partitions).toBeUndefined();
  });

  it('reads ?partitions=N from the URL; code options win', () => {
    expect(resolveRabbitOptions(parseUrl('amqp://h?partitions=8')).options.partitions).toBe(8);
    expect(resolveRabbitOptions(parseUrl('amqp://h?partitions=8'), { partitions: 2 }).options.partitions).toBe(2);
  });

  it.each(['0', '-1', '1.5', 'abc', '257'])('refuses partitions=%s with a configuration error naming the option', (v) => {
    const problems = problemsOf(`amqp://h?partitions=${v}`);
    expect(problems.length).toBe(1);
    expect(problems[0]).toContain('partitions');
  });

  it('refuses a rebalance interval under 50 ms', () => {
    expect(problemsOf('amqp://h?rebalanceIntervalMs=10')[0]).toContain('rebalanceIntervalMs');
  });
});

describe('partitions - routing', () => {
  it('sends a key to FNV-1a 32 of its UTF-8 bytes mod N, the same shard every time', () => {
    const r = new ShardRouter(4);
    for (const key of ['customer-7', 'a', '', 'ключ', '🙂']) {
      const want = fnv1a32(new TextEncoder().encode(key)) % 4;
      expect(r.shardOf(key)).toBe(want);
      expect(r.shardOf(key)).toBe(want);
    }
  });

  it('matches known FNV-1a 32 values (a foreign producer can route with any FNV-1a implementation)', () => {
    // FNV-1a 32 test vectors: "" -> 0x811c9dc5, "a" -> 0xe40c292c, "foobar" -> 0xbf9cf968.
    expect(new ShardRouter(1000).shardOf('a')).toBe(0xe40c292c % 1000);
    expect(new ShardRouter(1000).shardOf('foobar')).toBe(0xbf9cf968 % 1000);
    expect(new ShardRouter(7).shardOf('')).toBe(0x811c9dc5 % 7);
  });

  it('sends messages without a key to the any queue', () => {
    expect(new ShardRouter(3).shardOf(undefined)).toBe('any');
  });
});

describe('partitions - fair share', () => {
  it('is ceil(partitions / members)', () => {
    expect(fairShare(4, 1)).toBe(4);
    expect(fairShare(4, 2)).toBe(2);
    expect(fairShare(4, 3)).toBe(2);
    expect(fairShare(4, 5)).toBe(1);
    expect(fairShare(4, 0)).toBe(4);
  });

  it('gives up the highest shards beyond the share, and nothing within it', () => {
    expect(shardsToRelease([3, 0, 2, 1], 4, 2)).toEqual([2, 3]);
    expect(shardsToRelease([1, 3], 4, 2)).toEqual([]);
    expect(shardsToRelease([0, 1, 2], 4, 3)).toEqual([2]);
    expect(shardsToRelease([0, 1, 2, 3], 4, 1)).toEqual([]);
  });

  it('keeps the shards with messages in progress first (they could only go once settled)', () => {
    expect(shardsToRelease([0, 1, 2, 3], 4, 2, new Set([2, 3]))).toEqual([0, 1]);
    expect(shardsToRelease([0, 1, 2, 3], 4, 2, new Set([1]))).toEqual([2, 3]);
    expect(shardsToRelease([0, 1, 2, 3], 4, 2, new Set([0, 1, 3]))).toEqual([2, 3]);
  });
});

describe('partitions - names', () => {
  it('names shard i of a queue and of a group queue <base>@@shard.<i>', () => {
    expect(shardQueueName('orders', 3)).toBe('orders@@shard.3');
    expect(shardQueueName(groupQueueName('t', 'g'), 0, { topic: 't', group: 'g' })).toBe('t@g@@shard.0');
    expect(shardQueueName('orders', 'any')).toBe('orders@@any');
    expect(shardQueueName(groupQueueName('t', 'g'), 'any', { topic: 't', group: 'g' })).toBe('t@g@@any');
  });

  it('keeps a long topic + long group within 255 bytes', () => {
    const topic = 'x'.repeat(200);
    const group = 'g'.repeat(50);
    const name = shardQueueName(groupQueueName(topic, group), 255, { topic, group });
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(AMQP_NAME_BYTES);
    expect(name).toMatch(/^x{200}@h-[0-9a-f]{40}@@shard\.255$/);
  });
});

describe('partitions - wire', () => {
  const m: NormalizedMessage = { id: 'm1', body: new Uint8Array([1]), key: 'k', headers: { a: 'b' } } as unknown as NormalizedMessage;

  it('puts the shard of a topic send in sb-shard, which a consumer does not show', () => {
    const o = publishOptions(m, { stamp: true, shard: 2 });
    expect(o.headers?.[SHARD_HEADER]).toBe('2');
    const dec = decodeMessage({ content: Buffer.from([1]), fields: { redelivered: false }, properties: o } as unknown as Message, 'x');
    expect(dec.headers).toEqual({ a: 'b' });
    expect(dec.key).toBe('k');
  });

  it('counts sb-shard in the header size check', () => {
    const o = publishOptions(m, { stamp: true, shard: 255 });
    const plain = publishOptions(m, { stamp: true });
    const extra = encodedTableSize(o.headers as Record<string, unknown>) - encodedTableSize(plain.headers as Record<string, unknown>);
    expect(extra).toBe(1 + SHARD_HEADER.length + 1 + 4 + 3);
    // A message whose headers fit only without sb-shard is refused when sharded.
    const big = (pad: number): NormalizedMessage => ({ ...m, headers: { pad: 'p'.repeat(pad) } }) as unknown as NormalizedMessage;
    let pad = 60_000;
    while ((() => { try { assertSendable(big(pad + 1), 0, 131072, true); return true; } catch { return false; } })()) pad++;
    expect(() => assertSendable(big(pad), 0, 131072, true)).not.toThrow();
    expect(() => assertSendable(big(pad), 0, 131072, true, true)).toThrow(/headers encode/);
  });
});

describe('partitions - capabilities', () => {
  const caps = (partitions?: number, streams = true) => rabbitCapabilitiesFor({ streams, partitions });

  it('are the plain tables without partitions', () => {
    expect(caps()).toBe(rabbitCapabilities);
    expect(caps(undefined, false)).toBe(rabbitCapabilitiesWithoutStreams);
  });

  it('declare per-key order emulated with its mechanism and cost, and skip after a nack', () => {
    const c = caps(4);
    expect(c.orderingPerKey.level).toBe('emulated');
    expect((c.orderingPerKey as { note: string }).note).toMatch(/single-active-consumer/);
    expect((c.orderingPerKey as { note: string }).note).toMatch(/Rebalancing/);
    expect((c.orderingPerKey as { note: string }).note).toMatch(/dies mid-message/);
    expect(c.orderingPerKeyAfterNack.level).toBe('none');
    expect(c.orderingTotal.level).toBe('none');
    expect(c.competingConsumers.level).toBe('emulated');
    expect(c.polling.level).toBe('emulated');
  });

  it('keep total order and drop competition with one shard', () => {
    expect(caps(1).orderingTotal.level).toBe('native');
    expect(caps(1).competingConsumers.level).toBe('none');
  });

  it('leave every other capability as it was', () => {
    const changed = new Set(['orderingPerKey', 'orderingPerKeyAfterNack', 'orderingTotal', 'competingConsumers', 'prefetch', 'polling', 'longPolling', 'atMostOnce', 'gracefulClose']);
    for (const streams of [true, false]) {
      const base = streams ? rabbitCapabilities : rabbitCapabilitiesWithoutStreams;
      const c = caps(4, streams) as unknown as Record<string, { level: string }>;
      for (const [k, v] of Object.entries(base)) if (!changed.has(k)) expect([k, c[k]!.level]).toEqual([k, (v as { level: string }).level]);
    }
  });
});
