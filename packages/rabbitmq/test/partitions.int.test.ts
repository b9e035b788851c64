// Against the real broker (SWITCHBOARD_TEST_RABBITMQ_URL; skipped without it): the partitions option's
// broker-side claims. Shards have single active consumer, a foreign producer that routes by the
// documented wire format reaches the group, a joining member gets its share, and a mismatch of N fails.
import { randomUUID } from 'node:crypto';
import { connect, SwitchboardError, type Connection, type Delivery } from '@switchboard/core';
import { fnv1a32 } from '@switchboard/core/driver';
import amqp from 'amqplib';
import { driver } from '@switchboard/rabbitmq';
import { groupQueueName, shardQueueName } from '../src/names';

const url = process.env.SWITCHBOARD_TEST_RABBITMQ_URL;
const name = (p: string) => `sbt.${p}.${randomUUID().slice(0, 8)}`;
const withParams = (u: string, q: string) => `${u}${u.includes('?') ? '&' : '?'}${q}`;

/** Polls `ok` until it holds, at most `ms` (a bound for behaviour, not a timing assertion). */
async function until(ok: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The documented routing, written here from the README's description, not imported from the adapter. */
const shardFor = (key: string, n: number) => fnv1a32(Buffer.from(key, 'utf8')) % n;
/** Every queue of a partitioned queue or group queue `base` with 4 partitions. */
const allOf = (base: string) => [...Array.from({ length: 4 }, (_, i) => shardQueueName(base, i)), shardQueueName(base, 'any')];

(url ? describe : describe.skip)('rabbitmq - partitions against a broker', () => {
  let four: Connection;
  let raw: amqp.ChannelModel;
  const queues: string[] = [];
  /** A channel for one check that may fail (a 404 or 406 closes it). */
  const onChannel = async <T>(op: (ch: amqp.Channel) => Promise<T>): Promise<T> => {
    const ch = await raw.createChannel();
    ch.on('error', () => undefined);
    try {
      return await op(ch);
    } finally {
      await ch.close().catch(() => undefined);
    }
  };
  beforeAll(async () => {
    four = await connect(withParams(url!, 'partitions=4'), { drivers: [driver] });
    raw = await amqp.connect(url!);
    raw.on('error', () => undefined);
  });
  afterAll(async () => {
    for (const q of queues) await onChannel((ch) => ch.deleteQueue(q)).catch(() => undefined);
    await raw?.close();
    await four?.close();
  });

  test('partitions - shard queues have single active consumer: a second consumer of a shard waits while the first holds it', async () => {
    const q = name('sac');
    const shards = Array.from({ length: 4 }, (_, i) => shardQueueName(q, i));
    queues.push(...shards, shardQueueName(q, 'any'));
    await four.admin.ensureDestination(`queue:${q}`);
    const ch = await raw.createChannel();
    const got: string[] = [];
    await ch.consume(shards[0]!, (m) => m && got.push(`first:${m.content.toString()}`), { noAck: true });
    await ch.consume(shards[0]!, (m) => m && got.push(`second:${m.content.toString()}`), { noAck: true });
    expect((await ch.checkQueue(shards[0]!)).consumerCount).toBe(2);
    for (let i = 0; i < 5; i++) ch.sendToQueue(shards[0]!, Buffer.from(String(i)));
    await until(() => got.length === 5, 10_000, `5 messages (got ${got.length})`);
    expect(got).toEqual(['first:0', 'first:1', 'first:2', 'first:3', 'first:4']);
    await ch.close();
  });

  test('partitions - a foreign producer that routes by the wire format reaches the group in key order, on a queue and a topic', async () => {
    const q = name('wire-q');
    const t = name('wire-t');
    queues.push(...allOf(q), ...allOf(groupQueueName(t, 'g')), `${t}@@stream`, `${t}@@groups`);
    const got: Record<string, string[]> = { queue: [], topic: [] };
    const cq = await four.consumer(`queue:${q}`);
    const ct = await four.consumer(`topic:${t}`, { group: 'g' });
    const hq = cq.consume((d: Delivery) => void got.queue!.push(`${d.key}:${d.text()}`));
    const ht = ct.consume((d: Delivery) => void got.topic!.push(`${d.key}:${d.text()}`));
    const ch = await raw.createConfirmChannel();
    for (let i = 0; i < 20; i++) {
      const key = `k${i % 3}`;
      const headers = { 'sb-key': key };
      ch.sendToQueue(shardQueueName(q, shardFor(key, 4)), Buffer.from(String(i)), { headers, messageId: `q${i}` });
      ch.publish(t, '', Buffer.from(String(i)), { headers: { ...headers, 'sb-shard': String(shardFor(key, 4)) }, messageId: `t${i}` });
    }
    await ch.waitForConfirms();
    await ch.close();
    await until(() => got.queue!.length === 20 && got.topic!.length === 20, 15_000, `20 + 20 messages (got ${got.queue!.length} + ${got.topic!.length})`);
    for (const kind of ['queue', 'topic']) {
      for (const key of ['k0', 'k1', 'k2']) {
        const seq = got[kind]!.filter((x) => x.startsWith(`${key}:`)).map((x) => Number(x.split(':')[1]));
        expect([kind, key, seq]).toEqual([kind, key, [...seq].sort((a, b) => a - b)]);
      }
    }
    await hq.close();
    await ht.close();
    await cq.close();
    await ct.close();
  }, 30_000);

  test('partitions - a member that joins gets a share of the shards while the first member keeps working', async () => {
    const q = name('share');
    queues.push(...allOf(q));
    const b = await connect(withParams(url!, 'partitions=4'), { drivers: [driver] });
    try {
      const byMember: [string[], string[]] = [[], []];
      const ca = await four.consumer(`queue:${q}`, { prefetch: 2 });
      const ha = ca.consume((d) => void byMember[0].push(d.key!));
      // Member A alone is active on every shard: all 8 keys reach it.
      const keys = Array.from({ length: 8 }, (_, i) => `key-${i}`);
      await four.producer().send(`queue:${q}`, keys.map((key) => ({ key, body: key })));
      await until(() => byMember[0].length === 8, 10_000, `A gets all 8 (got ${byMember[0].length})`);
      const cb = await b.consumer(`queue:${q}`, { prefetch: 2 });
      const hb = cb.consume((d) => void byMember[1].push(d.key!));
      // Keep sending until B has some: A gives up the shards beyond ceil(4 / 2) = 2.
      await until(async () => {
        await four.producer().send(`queue:${q}`, keys.map((key) => ({ key, body: key })));
        return byMember[1].length > 0;
      }, 15_000, `B gets a share (A ${byMember[0].length}, B ${byMember[1].length})`);
      // B has only the shards A gave up: at most its share of ceil(4 / 2) = 2.
      const shardsOfB = new Set(byMember[1].map((k) => shardFor(k, 4)));
      expect(shardsOfB.size).toBeGreaterThanOrEqual(1);
      expect(shardsOfB.size).toBeLessThanOrEqual(2);
      await hb.close();
      await ha.close();
      await cb.close();
      await ca.close();
    } finally {
      await b.close();
    }
  }, 40_000);

  test('partitions - a connection with fewer partitions than the shards on the broker fails with configuration', async () => {
    const q = name('mismatch');
    queues.push(...allOf(q));
    await four.admin.ensureDestination(`queue:${q}`);
    const two = await connect(withParams(url!, 'partitions=2'), { drivers: [driver] });
    try {
      const err = await two.producer().send(`queue:${q}`, 'x').then(() => undefined, (e: unknown) => e);
      expect(SwitchboardError.is(err, 'configuration')).toBe(true);
      expect((err as Error).message).toMatch(/more partitions than the 2/);
    } finally {
      await two.close();
    }
  });

  test('partitions - a shard queue that exists without single active consumer fails with configuration', async () => {
    const q = name('plain');
    queues.push(...allOf(q));
    await onChannel((ch) => ch.assertQueue(shardQueueName(q, 0), { durable: true }));
    const err = await four.admin.ensureDestination(`queue:${q}`).then(() => undefined, (e: unknown) => e);
    expect(SwitchboardError.is(err, 'configuration')).toBe(true);
    expect((err as Error).message).toMatch(/x-single-active-consumer/);
  });
});
