// Against the real broker (SWITCHBOARD_TEST_RABBITMQ_URL; skipped without it): issue 11's header
// limit (defect 6b), the names that used to fail after a round trip, and declarations that used to
// hit 406 PRECONDITION_FAILED.
import { randomUUID } from 'node:crypto';
import { connect, HEADERS, SwitchboardError, type Connection, type Delivery } from '@switchboard/core';
import { normalizeMessages } from '@switchboard/core/driver';
import amqp from 'amqplib';
import { driver } from '@switchboard/rabbitmq';
import { AMQPLIB_TABLE_BUFFER, encodedTableSize, HEADER_RESERVE, publishOptions } from '../src/codec';
import { offsetQueueName, streamQueueName } from '../src/names';
import { MAX_DELAY_MS } from '../src/topology';

const url = process.env.SWITCHBOARD_TEST_RABBITMQ_URL;
const name = (p: string) => `sbt.${p}.${randomUUID().slice(0, 8)}`;

/** Takes up to `n` deliveries, waiting at most `ms` (a bound, not a timing assertion). */
async function take(c: { poll(o: { max: number; waitMs: number }): Promise<Delivery[]> }, n: number, ms = 15_000): Promise<Delivery[]> {
  const out: Delivery[] = [];
  const deadline = Date.now() + ms;
  while (out.length < n && Date.now() < deadline) out.push(...(await c.poll({ max: n - out.length, waitMs: Math.min(1000, deadline - Date.now()) })));
  return out;
}

async function rejection(p: Promise<unknown>): Promise<SwitchboardError> {
  try {
    await p;
  } catch (err) {
    return err as SwitchboardError;
  }
  throw new Error('expected a rejection');
}

(url ? describe : describe.skip)('rabbitmq - limits against a broker', () => {
  let conn: Connection;
  let raw: amqp.ChannelModel;
  const created: string[] = [];
  const messages = async (q: string) => {
    const ch = await raw.createChannel();
    try {
      return (await ch.checkQueue(q)).messageCount;
    } finally {
      await ch.close();
    }
  };

  beforeAll(async () => {
    conn = await connect(url!, { drivers: [driver] });
    raw = await amqp.connect(url!);
  });
  afterAll(async () => {
    const ch = await raw?.createChannel();
    for (const q of created) await ch?.deleteQueue(q).catch(() => undefined);
    await raw?.close();
    await conn?.close();
  });

  test('headers - a 1 MB header is payload_too_large with size and limit, nothing of the batch is sent, the connection stays usable', async () => {
    const q = name('big-header');
    created.push(q);
    await conn.admin.ensureDestination(q);
    const p = conn.producer();
    const big = 'x'.repeat(1024 * 1024);
    const err = await rejection(p.send(q, [{ body: 'first' }, { body: 'second', headers: { big } }, { body: 'third' }]));
    expect(err).toBeInstanceOf(SwitchboardError);
    expect(err.code).toBe('payload_too_large');
    expect(err.message).toMatch(/message 1 .*headers encode to \d+ bytes.*at most \d+/);
    expect(err.details).toMatchObject({ index: 1, limit: AMQPLIB_TABLE_BUFFER - HEADER_RESERVE, frameMax: 131072 });
    expect((err.details as { size: number }).size).toBeGreaterThan(1024 * 1024);
    expect(await messages(q)).toBe(0);

    // The same connection and channels still work, and the brokerRef sequence was not disturbed.
    const [a, b] = await p.send(q, ['after-1', 'after-2']);
    expect(a!.confirmed && b!.confirmed).toBe(true);
    const [ga, sa] = a!.brokerRef!.split('.').map(Number);
    expect(b!.brokerRef).toBe(`${ga}.${sa! + 1}`);
    const c = await conn.consumer(q);
    const got = await take(c, 2);
    expect(got.map((d) => d.text()).sort()).toEqual(['after-1', 'after-2']);
    for (const d of got) await d.ack();
    await c.close();
  });

  test('headers - a queue message exactly at the limit goes through intact, one byte more is refused', async () => {
    const q = name('edge-header');
    created.push(q);
    const limit = AMQPLIB_TABLE_BUFFER - HEADER_RESERVE;
    const [probe] = normalizeMessages({ id: 'edge', body: 'b', key: 'k', headers: { h: '' } });
    // A queue send carries no sb-ts (only topic sends are stamped for their retention stream).
    const base = encodedTableSize(publishOptions(probe!, { stamp: false }).headers as Record<string, unknown>);
    const h = 'v'.repeat(limit - base);
    const p = conn.producer();
    const over = await rejection(p.send(q, { id: 'edge', body: 'b', key: 'k', headers: { h: h + 'v' } }));
    expect(over.code).toBe('payload_too_large');
    expect((await p.send(q, { id: 'edge', body: 'b', key: 'k', headers: { h } })).confirmed).toBe(true);
    const c = await conn.consumer(q);
    const [d] = await take(c, 1);
    expect(d!.headers.h).toBe(h);
    expect(d!.id).toBe('edge');
    await d!.ack();
    await c.close();
  });

  test('headers - a message at the limit is still dead-lettered, its long reason cut to fit', async () => {
    const q = name('edge-dead');
    const dlq = `${q}-dlq`;
    created.push(q, dlq);
    const limit = AMQPLIB_TABLE_BUFFER - HEADER_RESERVE;
    const [probe] = normalizeMessages({ id: 'dl', body: 'b', headers: { h: '' } });
    const h = 'v'.repeat(limit - encodedTableSize(publishOptions(probe!).headers as Record<string, unknown>));
    await conn.producer().send(q, { id: 'dl', body: 'b', headers: { h } });
    const c = await conn.consumer(q, { maxAttempts: 1 });
    const handle = c.consume(() => {
      throw new Error('é'.repeat(4000));
    });
    const dead = await conn.consumer(dlq);
    const [d] = await take(dead, 1, 20_000);
    expect(d).toBeDefined();
    expect(d!.id).toBe('dl');
    expect(d!.headers.h).toBe(h);
    const reason = d!.headers[HEADERS.deadLetterReason]!;
    expect(reason.endsWith('…')).toBe(true);
    expect(reason.length).toBeGreaterThan(100);
    await d!.ack();
    await handle.close();
    await c.close();
    await dead.close();
  });

  test('ids - an id longer than an AMQP short string round trips', async () => {
    const q = name('long-id');
    created.push(q);
    const id = 'i'.repeat(300);
    await conn.producer().send(q, { id, body: 'b' });
    const c = await conn.consumer(q);
    const [d] = await take(c, 1);
    expect(d!.id).toBe(id);
    expect(d!.headers[HEADERS.messageId]).toBeUndefined();
    await d!.ack();
    await c.close();
  });

  test('headers - a header name over 255 bytes is invalid_argument before anything is sent', async () => {
    const q = name('long-header-name');
    created.push(q);
    await conn.admin.ensureDestination(q);
    const err = await rejection(conn.producer().send(q, [{ body: 'a' }, { body: 'b', headers: { ['n'.repeat(256)]: 'v' } }]));
    expect(err.code).toBe('invalid_argument');
    expect(await messages(q)).toBe(0);
  });
  test('delays - connection.limits.maxDelayMs is the longest delay a delay queue holds', () => {
    expect(conn.limits.maxDelayMs).toBe(MAX_DELAY_MS);
  });

  test('delays - a delay over the broker TTL limit is invalid_argument before anything is declared or sent; the connection stays usable', async () => {
    const q = name('long-delay');
    created.push(q);
    await conn.admin.ensureDestination(q);
    const p = conn.producer();
    await expect(p.send(q, ['a', 'b'], { delayMs: MAX_DELAY_MS + 1 })).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(await messages(q)).toBe(0);
    expect((await p.send(q, 'c', { delayMs: 10 })).confirmed).toBe(true);
    const c = await conn.consumer(q);
    const [d] = await take(c, 1);
    expect(d!.text()).toBe('c');
    await d!.ack();
    await c.close();
  });

  test('filters - a filter header name over 255 bytes or a filter over 64 KiB is invalid_argument before anything is declared', async () => {
    const t = name('filter');
    await expect(conn.consumer(`topic:${t}`, { group: 'g', filter: { ['n'.repeat(256)]: 'v' } })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(conn.consumer(`topic:${t}`, { group: 'g', filter: { big: 'v'.repeat(70_000) } })).rejects.toMatchObject({ code: 'invalid_argument' });
    const ch = await raw.createChannel();
    ch.on('error', () => undefined);
    await expect(ch.checkExchange(t)).rejects.toThrow(/404/);
  });
});

(url ? describe : describe.skip)('rabbitmq - names and declarations against a broker', () => {
  let conn: Connection;
  let raw: amqp.ChannelModel;
  beforeAll(async () => {
    conn = await connect(url!, { drivers: [driver] });
    raw = await amqp.connect(url!);
  });
  afterAll(async () => {
    await raw?.close();
    await conn?.close();
  });

  test('names - a 200-character topic replayed by a 50-character group keeps its offset queue within 255 bytes', async () => {
    const t = `sbt.${randomUUID()}.`.padEnd(200, 'n');
    const group = 'g'.repeat(50);
    await conn.producer().send(`topic:${t}`, 'kept');
    // The default dead letter (`<source>-dlq`, 204 characters) would be over the 200-character limit: name one.
    const c = await conn.consumer(`topic:${t}`, { group, from: 'earliest', deadLetter: 'sbt.dlq' });
    const [d] = await take(c, 1);
    expect(d!.text()).toBe('kept');
    await d!.ack();
    await c.close();
    const ch = await raw.createChannel();
    await ch.checkQueue(offsetQueueName(t, group));
    await ch.deleteQueue(offsetQueueName(t, group));
    await ch.deleteQueue(streamQueueName(t));
    await ch.deleteExchange(t);
    await ch.close();
  });

  test('names - a queue named like a delay queue is refused up front', async () => {
    await expect(conn.producer().send('sb.delay.1000.q.jobs', 'x')).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  test('declarations - a topic deleted and made again on one connection still delivers to its group', async () => {
    const t = name('again');
    const c1 = await conn.consumer(`topic:${t}`, { group: 'g' });
    await c1.close();
    await conn.admin.deleteDestination(`topic:${t}`);
    await conn.producer().send(`topic:${t}`, 'after');
    const c2 = await conn.consumer(`topic:${t}`, { group: 'g' });
    await conn.producer().send(`topic:${t}`, 'again');
    const got = await take(c2, 1);
    expect(got.map((d) => d.text())).toEqual(['again']);
    for (const d of got) await d.ack();
    await c2.close();
    const ch = await raw.createChannel();
    await ch.deleteQueue(`${t}@g`);
    await ch.deleteQueue(streamQueueName(t));
    await ch.deleteExchange(t);
    await ch.close();
  });

  test('declarations - a queue its operator made quorum is used as it is (no 406)', async () => {
    const q = name('quorum');
    const ch = await raw.createChannel();
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await conn.producer().send(q, 'to quorum');
    const c = await conn.consumer(q);
    const [d] = await take(c, 1);
    expect(d!.text()).toBe('to quorum');
    await d!.ack();
    await c.close();
    await ch.deleteQueue(q);
    await ch.close();
  });

  test('declarations - a stream made with another retention by another connection is used; an explicit other retention is configuration', async () => {
    const t = name('retention');
    const other = await connect(`${url!}?streamRetentionMs=60000`, { drivers: [driver] });
    try {
      await other.producer().send(`topic:${t}`, 'one');
      await conn.producer().send(`topic:${t}`, 'two');
      const c = await conn.consumer(`topic:${t}`, { group: 'g', from: 'earliest' });
      const got = await take(c, 2);
      expect(got.map((d) => d.text())).toEqual(['one', 'two']);
      for (const d of got) await d.ack();
      await c.close();
      await expect(conn.admin.ensureDestination(`topic:${t}`, { retentionMs: 120_000 })).rejects.toMatchObject({ code: 'configuration' });
      await conn.admin.ensureDestination(`topic:${t}`, { retentionMs: 60_000 });
    } finally {
      await other.close();
      const ch = await raw.createChannel();
      await ch.deleteQueue(offsetQueueName(t, 'g')).catch(() => undefined);
      await ch.deleteQueue(streamQueueName(t)).catch(() => undefined);
      await ch.deleteExchange(t).catch(() => undefined);
      await ch.close().catch(() => undefined);
    }
  });
});
