// Against the real broker (SWITCHBOARD_TEST_RABBITMQ_URL; skipped without it): what a publisher that
// is not Switchboard (amqplib alone) sends, as issue 14 found it broken.
import { randomUUID } from 'node:crypto';
import { connect, MemoryDedupStore, withDedup, type Connection, type Consumer, type Delivery } from '@switchboard/core';
import amqp from 'amqplib';
import { driver } from '@switchboard/rabbitmq';
import { groupQueueName, groupRegistryName, streamQueueName } from '../src/names';

const url = process.env.SWITCHBOARD_TEST_RABBITMQ_URL;
const name = (p: string) => `sbt.${p}.${randomUUID().slice(0, 8)}`;
const DECIMAL = { '!': 'decimal', value: { places: 1, digits: 15 } };

/** The first delivery within `ms`. */
async function first(c: Consumer, ms = 10_000): Promise<Delivery> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    const [d] = await c.poll({ max: 1, waitMs: 250 });
    if (d) return d;
  }
  throw new Error(`no delivery within ${ms} ms`);
}

(url ? describe : describe.skip)('rabbitmq - wire interop against a broker', () => {
  let raw: amqp.ChannelModel;
  let pub: amqp.ConfirmChannel;
  let rawError: Error | undefined;
  const queues: string[] = [];
  const exchanges: string[] = [];
  const opened: Connection[] = [];
  const open = async (u = url!) => {
    const c = await connect(u, { drivers: [driver] });
    opened.push(c);
    return c;
  };
  /** A foreign publish; resolves 'ok' on the confirm, or says how it failed. */
  const publish = (exchange: string, routingKey: string, body: string, options: amqp.Options.Publish) =>
    new Promise<string>((resolve) => {
      const onClose = () => resolve(`channel closed: ${rawError?.message ?? ''}`);
      pub.once('close', onClose);
      pub.publish(exchange, routingKey, Buffer.from(body), options, (err: unknown) => {
        pub.removeListener('close', onClose);
        resolve(err ? `nacked: ${String(err)}` : 'ok');
      });
    });

  beforeAll(async () => {
    raw = await amqp.connect(url!);
    raw.on('error', (e: Error) => (rawError = e));
    pub = await raw.createConfirmChannel();
    pub.on('error', () => undefined);
  });
  afterAll(async () => {
    for (const c of opened) await c.close().catch(() => undefined);
    const ch = await raw.createChannel().catch(() => undefined);
    for (const q of queues) await ch?.deleteQueue(q).catch(() => undefined);
    for (const x of exchanges) await ch?.deleteExchange(x).catch(() => undefined);
    await raw.close().catch(() => undefined);
  });

  test("wire - a foreign decimal header on a topic with its retention stream keeps the publisher's confirm and reaches the group as '1.5'", async () => {
    const t = name('decimal');
    queues.push(groupQueueName(t, 'g'), streamQueueName(t), groupRegistryName(t));
    exchanges.push(t);
    const conn = await open();
    await conn.admin.ensureDestination(`topic:${t}`);
    const c = await conn.consumer(`topic:${t}`, { group: 'g' });
    // Before the fix the stream took every message, and RabbitMQ 3.10 closed this connection with 541.
    expect(await publish(t, '', 'typed', { headers: { price: DECIMAL } })).toBe('ok');
    const d = await first(c);
    expect(d.headers.price).toBe('1.5');
    await d.ack();
  });

  test('wire - a stream bound to everything by an earlier version is rebound, so a decimal header no longer reaches it', async () => {
    const t = name('legacy');
    const s = streamQueueName(t);
    queues.push(s, groupQueueName(t, 'g'), groupRegistryName(t));
    exchanges.push(t);
    const ch = await raw.createChannel();
    await ch.assertExchange(t, 'headers', { durable: true });
    await ch.assertQueue(s, { durable: true, arguments: { 'x-queue-type': 'stream', 'x-max-age': '86400s' } });
    await ch.bindQueue(s, t, '', { 'x-match': 'all' });
    await ch.close();
    const conn = await open();
    await conn.admin.ensureDestination(`topic:${t}`);
    expect(await publish(t, '', 'typed', { headers: { price: DECIMAL } })).toBe('ok');
  });

  test("wire - replay keeps every Switchboard message, and a foreign one only when it carries sb-ts", async () => {
    const t = name('replay');
    queues.push(streamQueueName(t), `${groupQueueName(t, 'r')}@@offset`, groupRegistryName(t));
    exchanges.push(t);
    const conn = await open();
    await conn.admin.ensureDestination(`topic:${t}`);
    await conn.producer().send(`topic:${t}`, { id: 'from-sb', body: 'sb' });
    expect(await publish(t, '', 'foreign-retained', { messageId: 'foreign-retained', headers: { 'sb-ts': String(Date.now()) } })).toBe('ok');
    expect(await publish(t, '', 'foreign-passing', { messageId: 'foreign-passing', headers: {} })).toBe('ok');
    expect(await publish(t, '', 'after', { messageId: 'after', headers: { 'sb-ts': String(Date.now()) } })).toBe('ok');
    const c = await conn.consumer(`topic:${t}`, { group: 'r', from: 'earliest' });
    const got: string[] = [];
    while (got.length < 3) {
      const d = await first(c);
      got.push(d.id);
      await d.ack();
    }
    expect(got).toEqual(['from-sb', 'foreign-retained', 'after']);
  });

  test('wire - foreign messages without message_id get distinct ids in three sessions, and withDedup with a shared store drops none of them', async () => {
    const q = name('anon');
    queues.push(q);
    const bodies = ['a', 'b', 'c'];
    const conn = await open();
    await conn.admin.ensureDestination(`queue:${q}`);
    for (const b of bodies) expect(await publish('', q, b, { persistent: true })).toBe('ok');
    const store = new MemoryDedupStore();
    const handled: { id: string; body: string }[] = [];
    // One message per session: each new channel numbers its deliveries from 1 again.
    for (let i = 0; i < 3; i++) {
      const session = await connect(url!, { drivers: [driver] });
      const c = withDedup(await session.consumer(`queue:${q}`, { prefetch: 1 }), { store });
      const h = c.consume(async (d) => {
        handled.push({ id: d.id, body: d.text() });
      });
      for (const deadline = Date.now() + 10_000; handled.length <= i && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
      await h.close();
      await session.close();
    }
    expect(handled.map((h) => h.body).sort()).toEqual(bodies);
    expect(new Set(handled.map((h) => h.id)).size).toBe(3);
  });

  test('wire - a nacked foreign message without message_id comes back with the same id', async () => {
    const q = name('nack');
    queues.push(q);
    const conn = await open();
    await conn.admin.ensureDestination(`queue:${q}`);
    expect(await publish('', q, 'once', { persistent: true })).toBe('ok');
    const c = await conn.consumer(`queue:${q}`);
    const d1 = await first(c);
    await d1.nack();
    const d2 = await first(c);
    expect(d2.text()).toBe('once');
    expect(d2.attempt).toBe(2);
    expect(d2.id).toBe(d1.id);
    await d2.ack();
  });
});
