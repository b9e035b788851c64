import { randomUUID } from 'node:crypto';
import { connect, type Connection, type Delivery } from '@switchboard/core';
import { Kafka, logLevel } from 'kafkajs';
import { driver, groupId, kafkaTopic, legacyGroupId, retryTopic } from '@switchboard/kafka';
import { registerDriver } from '@switchboard/core';

const url = process.env.SWITCHBOARD_TEST_KAFKA_URL;
const name = (p: string) => `sbt.${p}.${randomUUID().slice(0, 8)}`;

async function take(it: AsyncIterator<Delivery>, n: number, ms = 15_000): Promise<Delivery[]> {
  const out: Delivery[] = [];
  const deadline = Date.now() + ms;
  while (out.length < n) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([it.next(), new Promise<'t'>((res) => (timer = setTimeout(() => res('t'), left)))]);
    clearTimeout(timer);
    if (r === 't' || r.done) break;
    out.push(r.value);
  }
  return out;
}

(url ? describe : describe.skip)('kafka - basics against a broker', () => {
  let conn: Connection;
  beforeAll(async () => {
    registerDriver(driver);
    conn = await connect(url!);
  });
  afterAll(async () => {
    await conn?.close();
  });

  test('queue - messages sent before the consumer wait for it, ack commits', async () => {
    const q = name('q');
    const p = conn.producer();
    const receipts = await p.send(q, ['a', 'b', 'c']);
    expect(receipts.every((r) => r.confirmed && /^\d+:\d+$/.test(r.brokerRef!))).toBe(true);
    const c = await conn.consumer(q);
    const sub = c.subscribe();
    const got = await take(sub[Symbol.asyncIterator](), 3);
    expect(got.map((d) => d.text()).sort()).toEqual(['a', 'b', 'c']);
    for (const d of got) await d.ack();
    await c.close();
  });

  test('ids - a confirmed send names a message without an id by its record: no sb-message-id on the wire, and the receipt id is the id every group reads', async () => {
    const t = name('named');
    const p = conn.producer();
    const groups = [await conn.consumer(`topic:${t}`, { group: 'g1' }), await conn.consumer(`topic:${t}`, { group: 'g2' })];
    const receipts = await p.send(`topic:${t}`, ['a', { id: 'given', body: 'b' }]);
    const loose = await p.send(`topic:${t}`, 'c', { confirm: false });
    expect(receipts[0]!.id).toMatch(new RegExp(`^${t.replace(/\./g, '\\.')}:${receipts[0]!.brokerRef}@\\d+$`));
    expect(receipts[1]!.id).toBe('given');
    for (const c of groups) {
      const got = await take(c.subscribe()[Symbol.asyncIterator](), 3);
      // Partitions are read in no set order: compare by body.
      expect(Object.fromEntries(got.map((d) => [d.text(), d.id]))).toEqual({ a: receipts[0]!.id, b: 'given', c: loose.id });
      for (const d of got) await d.ack();
      await c.close();
    }
    // What a kafkajs consumer sees: the header only where an id was given or the send was not confirmed.
    const raw = new Kafka({ brokers: [url!.replace(/^kafka:\/\//, '').split('?')[0]!], logLevel: logLevel.NOTHING }).consumer({ groupId: `raw-${t}` });
    await raw.connect();
    await raw.subscribe({ topic: kafkaTopic({ kind: 'topic', name: t }), fromBeginning: true });
    const seen: Record<string, string | undefined> = {};
    await new Promise<void>((resolve) => {
      void raw.run({
        eachMessage: async ({ message }) => {
          seen[message.value!.toString()] = message.headers?.['sb-message-id']?.toString();
          if (Object.keys(seen).length === 3) resolve();
        },
      });
    });
    await raw.disconnect();
    expect(seen).toEqual({ a: undefined, b: 'given', c: loose.id });
  });

  test('topic - latest consumer sees what is sent after it is ready; nack redelivers with attempt + 1', async () => {
    const t = name('t');
    const p = conn.producer();
    await p.send(`topic:${t}`, 'before');
    const c = await conn.consumer(`topic:${t}`, { group: 'g1' });
    await p.send(`topic:${t}`, { body: 'after', headers: { h: '1' }, key: 'k' });
    const it = c.subscribe()[Symbol.asyncIterator]();
    const [d1] = await take(it, 1);
    expect(d1!.text()).toBe('after');
    expect(d1!.headers).toEqual({ h: '1' });
    expect(d1!.key).toBe('k');
    expect(d1!.attempt).toBe(1);
    await d1!.nack();
    const [d2] = await take(it, 1);
    expect(d2!.text()).toBe('after');
    expect(d2!.attempt).toBe(2);
    await d2!.ack();
    await c.close();
  });

  test('request/response round trip', async () => {
    const q = name('rr');
    const c = await conn.consumer(q);
    const h = c.consume(async (d) => {
      await d.respond({ body: `re:${d.text()}`, headers: { x: 'y' } });
    });
    const p = conn.producer();
    const replies = await Promise.all(Array.from({ length: 5 }, (_, i) => p.request(q, `m${i}`, { timeoutMs: 10_000 })));
    expect(replies.map((r) => r.text())).toEqual(['re:m0', 're:m1', 're:m2', 're:m3', 're:m4']);
    expect(replies[0]!.headers).toEqual({ x: 'y' });
    await h.close();
    await c.close();
  });

  test('out-of-order acks - close re-publishes the unacked gap so only it comes back', async () => {
    const q = name('gap');
    const p = conn.producer();
    await p.send(q, ['m1', 'm2', 'm3'].map((b) => ({ body: b, key: 'same-key' })));
    const c1 = await conn.consumer(q);
    const it1 = c1.subscribe()[Symbol.asyncIterator]();
    const got = await take(it1, 3);
    expect(got.map((d) => d.text())).toEqual(['m1', 'm2', 'm3']);
    await got[1]!.ack();
    await got[2]!.ack();
    await c1.close();
    const c2 = await conn.consumer(q);
    const again = await take(c2.subscribe()[Symbol.asyncIterator](), 3, 4000);
    expect(again.map((d) => d.text())).toEqual(['m1']);
    expect(again[0]!.attempt).toBe(2);
    await again[0]!.ack();
    await c2.close();
  });

  test('replay from <partition>:<offset> of a receipt', async () => {
    const t = name('pos');
    const p = conn.producer();
    const receipts = await p.send(`topic:${t}`, ['a', 'b', 'c', 'd'].map((b) => ({ body: b, key: 'one-key' })));
    const c = await conn.consumer(`topic:${t}`, { group: 'replay', from: { offset: receipts[2]!.brokerRef! } });
    const got = await take(c.subscribe()[Symbol.asyncIterator](), 2);
    expect(got.map((d) => d.text())).toEqual(['c', 'd']);
    expect(got[0]!.receipt).toBe(receipts[2]!.brokerRef);
    for (const d of got) await d.ack();
    await c.close();
  });

  test('position - a retry carries its origin record\'s position; from { position } replays from that record', async () => {
    const t = name('position');
    const p = conn.producer();
    const receipts = await p.send(`topic:${t}`, ['a', 'b', 'c'].map((b) => ({ body: b, key: 'one-key' })));
    const c = await conn.consumer(`topic:${t}`, { group: 'g', from: 'earliest' });
    const it = c.subscribe()[Symbol.asyncIterator]();
    const first = await take(it, 3);
    expect(first.map((d) => d.position?.split('@')[0])).toEqual(receipts.map((r) => r.brokerRef));
    const b = first[1]!;
    await b.nack();
    for (const d of [first[0]!, first[2]!]) await d.ack();
    const [again] = await take(it, 1);
    expect(again!.attempt).toBe(2);
    expect(again!.position).toBe(b.position);
    await again!.ack();
    await c.close();
    const r = await conn.consumer(`topic:${t}`, { group: 'replay', from: { position: b.position! } });
    const got = await take(r.subscribe()[Symbol.asyncIterator](), 2);
    expect(got.map((d) => d.text())).toEqual(['b', 'c']);
    for (const d of got) await d.ack();
    await r.close();
  });

  test('position - a malformed position or one naming a missing partition is invalid_argument, before anything is created', async () => {
    const t = name('badpos');
    await expect(conn.consumer(`topic:${t}`, { group: 'g', from: { position: '0:1' } })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(conn.consumer(`topic:${t}`, { group: 'g', from: { position: '0:0@1' } })).rejects.toMatchObject({ code: 'invalid_argument' });
    await conn.admin.ensureDestination(`topic:${t}`);
    await expect(conn.consumer(`topic:${t}`, { group: 'g', from: { position: '3:0@1' } })).rejects.toMatchObject({ code: 'invalid_argument' });
    const admin = new Kafka({ brokers: [url!.replace(/^kafka:\/\//, '').split('?')[0]!], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      expect((await admin.listTopics()).filter((x) => x.startsWith(t))).toEqual([t]);
    } finally {
      await admin.disconnect();
    }
  });

  test('readiness - a new group has its start positions committed when consumer() resolves', async () => {
    const t = name('ready');
    const c = await conn.consumer(`topic:${t}`, { group: 'g' });
    const admin = new Kafka({ brokers: [url!.replace(/^kafka:\/\//, '').split('?')[0]!], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const [offsets] = await admin.fetchOffsets({ groupId: groupId({ kind: 'topic', name: t }, 'g'), topics: [t] });
      expect(offsets!.partitions.length).toBe(3);
      for (const p of offsets!.partitions) expect(Number(p.offset)).toBeGreaterThanOrEqual(0);
    } finally {
      await admin.disconnect();
      await c.close();
    }
  });
  const rawAdmin = async () => {
    const admin = new Kafka({ brokers: [url!.replace(/^kafka:\/\//, '').split('?')[0]!], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    return admin;
  };

  test('naming - queue:x and topic:x are separate Kafka topics: each consumer gets only its own messages', async () => {
    const x = name('qt');
    const q = await conn.consumer(`queue:${x}`);
    const t = await conn.consumer(`topic:${x}`, { group: 'queue' });
    const p = conn.producer();
    await p.send(`queue:${x}`, ['q1', 'q2']);
    await p.send(`topic:${x}`, ['t1', 't2']);
    const gotQ = await take(q.subscribe()[Symbol.asyncIterator](), 3, 4000);
    const gotT = await take(t.subscribe()[Symbol.asyncIterator](), 3, 4000);
    expect(gotQ.map((d) => d.text()).sort()).toEqual(['q1', 'q2']);
    expect(gotT.map((d) => d.text()).sort()).toEqual(['t1', 't2']);
    for (const d of [...gotQ, ...gotT]) await d.ack();
    await Promise.all([q.close(), t.close()]);
  });

  test('naming - x.y then x_y: the second is invalid_argument naming the first, and nothing is created for it', async () => {
    const base = name('dot');
    const [dotted, under] = [`${base}.y`, `${base}_y`];
    await conn.producer().send(`topic:${dotted}`, 'one');
    const sendErr = await conn.producer().send(`topic:${under}`, 'two').catch((e: unknown) => e);
    expect(sendErr).toMatchObject({ code: 'invalid_argument' });
    expect(String((sendErr as Error).message)).toContain(dotted);
    await expect(conn.consumer(`topic:${under}`, { group: 'g' })).rejects.toMatchObject({ code: 'invalid_argument' });
    // queues collide the same way (their topics are "<name>.sb-queue")
    await conn.producer().send(`queue:${dotted}`, 'one');
    await expect(conn.producer().send(`queue:${under}`, 'two')).rejects.toMatchObject({ code: 'invalid_argument' });
    const admin = await rawAdmin();
    try {
      const topics = (await admin.listTopics()).filter((x) => x.startsWith(base));
      expect(topics.sort()).toEqual([dotted, kafkaTopic({ kind: 'queue', name: dotted })].sort());
    } finally {
      await admin.disconnect();
    }
  });

  test('naming - groups "b.c" and "b_c" of one topic both work (their retry topics do not collide in Kafka)', async () => {
    const t = name('grp');
    const a = await conn.consumer(`topic:${t}`, { group: 'b.c' });
    const b = await conn.consumer(`topic:${t}`, { group: 'b_c' });
    await conn.producer().send(`topic:${t}`, 'm');
    for (const c of [a, b]) {
      const it = c.subscribe()[Symbol.asyncIterator]();
      const [d1] = await take(it, 1);
      expect(d1?.text()).toBe('m');
      await d1!.nack();
      const [d2] = await take(it, 1);
      expect(d2?.attempt).toBe(2);
      await d2!.ack();
    }
    expect(retryTopic({ kind: 'topic', name: t }, 'b.c')).not.toBe(retryTopic({ kind: 'topic', name: t }, 'b_c'));
    await Promise.all([a.close(), b.close()]);
  });

  test('naming - a group with "." in its name goes on from the offsets of its old group id', async () => {
    const t = name('legacy');
    const dest = { kind: 'topic', name: t } as const;
    await conn.admin.ensureDestination(`topic:${t}`);
    await conn.producer().send(`topic:${t}`, ['a', 'b', 'c']);
    const admin = await rawAdmin();
    try {
      const old = legacyGroupId(dest, 'b.c')!;
      expect(old).toBe(`sb.${t}.b.c`);
      await admin.setOffsets({ groupId: old, topic: t, partitions: [0, 1, 2].map((partition) => ({ partition, offset: '0' })) });
    } finally {
      await admin.disconnect();
    }
    // from 'latest' would skip a, b, c; the old group id had not read them yet
    const c = await conn.consumer(`topic:${t}`, { group: 'b.c' });
    const got = await take(c.subscribe()[Symbol.asyncIterator](), 3);
    expect(got.map((d) => d.text()).sort()).toEqual(['a', 'b', 'c']);
    for (const d of got) await d.ack();
    await c.close();
  });
});
