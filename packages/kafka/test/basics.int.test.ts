import { randomUUID } from 'node:crypto';
import { connect, type Connection, type Delivery } from '@switchboard/core';
import { driver } from '@switchboard/kafka';
import { registerDriver } from '@switchboard/core';

const url = process.env.SWITCHBOARD_TEST_KAFKA_URL;
const name = (p: string) => `sbt.${p}.${randomUUID().slice(0, 8)}`;

async function take(it: AsyncIterator<Delivery>, n: number, ms = 15_000): Promise<Delivery[]> {
  const out: Delivery[] = [];
  const deadline = Date.now() + ms;
  while (out.length < n) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const r = await Promise.race([it.next(), new Promise<'t'>((res) => setTimeout(() => res('t'), left))]);
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
});
