// Against the real broker (SWITCHBOARD_TEST_RABBITMQ_URL; skipped without it): two members of one
// group with different options each get their own behaviour, and neither's join meets a 406.
import { randomUUID } from 'node:crypto';
import { connect, type Connection, type Delivery } from '@switchboard/core';
import amqp from 'amqplib';
import { driver } from '@switchboard/rabbitmq';
import { groupQueueName } from '../src/names';

const url = process.env.SWITCHBOARD_TEST_RABBITMQ_URL;
const name = (p: string) => `sbt.${p}.${randomUUID().slice(0, 8)}`;

/** Polls `ok` until it holds, at most `ms` (a bound for behaviour, not a timing assertion). */
async function until(ok: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

(url ? describe : describe.skip)('rabbitmq - per-member options against a broker', () => {
  let a: Connection;
  let b: Connection;
  let raw: amqp.ChannelModel;
  const queues: string[] = [];
  /** Messages in a queue; 0 while it does not exist yet. */
  const count = async (q: string): Promise<number> => {
    const ch = await raw.createChannel();
    ch.on('error', () => undefined);
    try {
      return (await ch.checkQueue(q)).messageCount;
    } catch {
      return 0;
    } finally {
      await ch.close().catch(() => undefined);
    }
  };
  beforeAll(async () => {
    a = await connect(url!, { drivers: [driver] });
    b = await connect(url!, { drivers: [driver] });
    raw = await amqp.connect(url!);
    raw.on('error', () => undefined);
  });
  afterAll(async () => {
    const ch = await raw?.createChannel();
    for (const q of queues) await ch?.deleteQueue(q).catch(() => undefined);
    await raw?.close();
    await a?.close();
    await b?.close();
  });

  test('per-member - each member dead-letters to its own destination after its own maxAttempts, and holds at most its own prefetch', async () => {
    const t = name('members');
    const [dlA, dlB] = [name('dl-a'), name('dl-b')];
    queues.push(groupQueueName(t, 'g'), dlA, dlB);
    // Two connections (two processes, as far as the broker knows), one group, every option different.
    const ca = await a.consumer(`topic:${t}`, { group: 'g', prefetch: 1, maxAttempts: 1, deadLetter: dlA, ackTimeoutMs: 60_000 });
    const cb = await b.consumer(`topic:${t}`, { group: 'g', prefetch: 3, maxAttempts: 2, deadLetter: dlB, ackTimeoutMs: 5_000, ackMode: 'at-least-once' });

    // Prefetch: nobody settles, so each member holds exactly what its own prefetch lets it hold.
    const held: Delivery[][] = [[], []];
    const subs = [ca.subscribe(), cb.subscribe()];
    const reading = subs.map(async (s, i) => {
      for await (const d of s) held[i]!.push(d);
    });
    await a.producer().send(`topic:${t}`, Array.from({ length: 10 }, (_, i) => ({ id: `p${i}`, body: `p${i}` })));
    await until(() => held[0]!.length === 1 && held[1]!.length === 3, 15_000, `member A holds 1 and member B 3 (held ${held[0]!.length} and ${held[1]!.length})`);
    await new Promise((r) => setTimeout(r, 500));
    expect([held[0]!.length, held[1]!.length]).toEqual([1, 3]);

    // maxAttempts and deadLetter: every nack of A's dead-letters at once to A's queue; B's only on a second attempt.
    const deadBy: Record<string, number> = {};
    await until(async () => {
      for (const [i, list] of held.entries()) {
        for (const d of list.splice(0)) {
          if (i === 0 || d.attempt >= 2) deadBy[d.id] = i;
          await d.nack();
        }
      }
      return (await count(dlA)) + (await count(dlB)) === 10;
    }, 30_000, 'all 10 messages dead-lettered');
    for (const s of subs) await s.close();
    await Promise.all(reading);

    const ch = await raw.createChannel();
    const drain = async (q: string) => {
      const ids: string[] = [];
      for (let m = await ch.get(q, { noAck: true }); m; m = await ch.get(q, { noAck: true })) ids.push(String(m.properties.messageId));
      return ids;
    };
    const [inA, inB] = [await drain(dlA), await drain(dlB)];
    await ch.close();
    expect([...inA, ...inB].sort()).toEqual(Array.from({ length: 10 }, (_, i) => `p${i}`).sort());
    // A dead letter in B's queue was given up by B (on its 2nd attempt); one in A's by A (on whatever attempt reached it).
    for (const id of inB) expect(deadBy[id]).toBe(1);
    for (const id of inA) expect(deadBy[id] ?? 0).toBe(0);
    expect(inA.length).toBeGreaterThan(0);
    await ca.close();
    await cb.close();
  }, 60_000);
  test('per-member - a member joining an existing group with from: earliest competes on the group queue instead of replaying the stream', async () => {
    const t = name('from');
    queues.push(groupQueueName(t, 'g'), `${t}@@stream`, `${t}@g@@offset`);
    await a.producer().send(`topic:${t}`, 'before the group');
    const first = await a.consumer(`topic:${t}`, { group: 'g' });
    await a.producer().send(`topic:${t}`, ['m1', 'm2', 'm3']);
    // `from` is the start of a new group; this group exists (as a queue), so the new member joins it.
    const second = await b.consumer(`topic:${t}`, { group: 'g', from: 'earliest' });
    const got: string[] = [];
    const deadline = Date.now() + 15_000;
    while (got.length < 3 && Date.now() < deadline) for (const d of await second.poll({ max: 10, waitMs: 500 })) (got.push(d.text()), await d.ack());
    for (const d of await second.poll({ max: 10, waitMs: 1000 })) (got.push(d.text()), await d.ack());
    expect(got.sort()).toEqual(['m1', 'm2', 'm3']);
    expect(await count(`${t}@g@@offset`)).toBe(0);
    await second.close();
    await first.close();
    const ch = await raw.createChannel();
    await ch.deleteExchange(t).catch(() => undefined);
    await ch.close().catch(() => undefined);
  });
});
