// Against the real broker (SWITCHBOARD_TEST_RABBITMQ_URL; skipped without it): admin finds and removes
// every per-group object the adapter made for a topic (group queues, committed-offset queues, the
// group registry, the stream), checked with amqplib's passive declares.
import { randomUUID } from 'node:crypto';
import { connect, type Connection, type Consumer } from '@switchboard/core';
import amqp from 'amqplib';
import { driver } from '@switchboard/rabbitmq';
import { groupQueueName, groupRegistryName, offsetQueueName, streamQueueName } from '../src/names';

const url = process.env.SWITCHBOARD_TEST_RABBITMQ_URL;
const name = (p: string) => `sbt.${p}.${randomUUID().slice(0, 8)}`;

(url ? describe : describe.skip)('rabbitmq - admin against a broker', () => {
  let conn: Connection;
  let raw: amqp.ChannelModel;
  /** Whether a queue (or, with `exchange`, an exchange) exists, by a passive declare. */
  const exists = async (n: string, exchange = false): Promise<boolean> => {
    const ch = await raw.createChannel();
    ch.on('error', () => undefined);
    try {
      await (exchange ? ch.checkExchange(n) : ch.checkQueue(n));
      return true;
    } catch {
      return false;
    } finally {
      await ch.close().catch(() => undefined);
    }
  };
  const close = (c: Consumer) => c.close();

  beforeAll(async () => {
    conn = await connect(url!, { drivers: [driver] });
    raw = await amqp.connect(url!);
    raw.on('error', () => undefined);
  });
  afterAll(async () => {
    await conn?.close();
    await raw?.close();
  });

  test("admin - listObjects names the topic's exchange, stream, group registry, and each group's queue and offset queue", async () => {
    const t = name('list');
    const a = await conn.consumer(`topic:${t}`, { group: 'a' });
    const r = await conn.consumer(`topic:${t}`, { group: 'replay', from: 'earliest' });
    const objects = await conn.admin.listObjects(`topic:${t}`);
    expect(objects).toEqual(
      expect.arrayContaining([
        { type: 'exchange', name: t },
        { type: 'stream', name: streamQueueName(t) },
        { type: 'queue', name: groupRegistryName(t) },
        { type: 'queue', name: groupQueueName(t, 'a'), group: 'a' },
        { type: 'queue', name: offsetQueueName(t, 'replay'), group: 'replay' },
      ]),
    );
    expect(objects).toHaveLength(5);
    await close(a);
    await close(r);
    await conn.admin.deleteDestination(`topic:${t}`);
    expect(await conn.admin.listObjects(`topic:${t}`)).toEqual([]);
  });

  test("admin - deleteGroup removes one group's queue, offset queue and record, and leaves the other groups", async () => {
    const t = name('group');
    const group = 'a group with spaces, hashed';
    const a = await conn.consumer(`topic:${t}`, { group });
    const b = await conn.consumer(`topic:${t}`, { group: 'b' });
    await close(a);
    await close(b);
    expect(await exists(groupQueueName(t, group))).toBe(true);
    await conn.admin.deleteGroup(`topic:${t}`, group);
    expect(await exists(groupQueueName(t, group))).toBe(false);
    expect(await exists(offsetQueueName(t, group))).toBe(false);
    expect(await exists(groupQueueName(t, 'b'))).toBe(true);
    expect((await conn.admin.listObjects(`topic:${t}`)).filter((o) => o.group !== undefined)).toEqual([{ type: 'queue', name: groupQueueName(t, 'b'), group: 'b' }]);
    // The same connection makes the group again, bound, on next use.
    const again = await conn.consumer(`topic:${t}`, { group });
    await conn.producer().send(`topic:${t}`, { body: 'x' });
    const [d] = await again.poll({ max: 1, waitMs: 5000 });
    expect(d?.text()).toBe('x');
    await d?.ack();
    await close(again);
    await conn.admin.deleteGroup(`topic:${t}`, group);
    await conn.admin.deleteDestination(`topic:${t}`);
  });

  test('admin - deleteDestination(topic) removes every group queue, offset queue, the registry, the stream and the exchange', async () => {
    const t = name('all');
    const cs = [await conn.consumer(`topic:${t}`, { group: 'g1' }), await conn.consumer(`topic:${t}`, { group: 'g2' }), await conn.consumer(`topic:${t}`, { group: 'r', from: 'earliest' })];
    for (const c of cs) await close(c);
    const made = [groupQueueName(t, 'g1'), groupQueueName(t, 'g2'), offsetQueueName(t, 'r'), groupRegistryName(t), streamQueueName(t)];
    for (const q of made) expect(await exists(q)).toBe(true);
    await conn.admin.deleteDestination(`topic:${t}`);
    for (const q of made) expect(await exists(q)).toBe(false);
    expect(await exists(t, true)).toBe(false);
  });
});
