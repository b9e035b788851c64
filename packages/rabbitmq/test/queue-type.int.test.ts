// Against the real broker (SWITCHBOARD_TEST_RABBITMQ_URL; skipped without it): with queueType=quorum the
// queues of a queue and of a topic group are quorum queues, and a message returned by a dead channel
// counts every return as an attempt (x-delivery-count), so a poison message is dead-lettered.
import { randomUUID } from 'node:crypto';
import { connect, type Connection } from '@switchboard/core';
import amqp from 'amqplib';
import { driver } from '@switchboard/rabbitmq';
import { shardOf } from '@switchboard/core/driver';
import { groupQueueName } from '../src/names';

/** Polls `ok` until it holds, at most `ms` (a bound for behaviour, not a timing assertion). */
async function until(ok: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const url = process.env.SWITCHBOARD_TEST_RABBITMQ_URL;
const name = (p: string) => `sbt.${p}.${randomUUID().slice(0, 8)}`;
const withParam = (u: string, p: string) => `${u}${u.includes('?') ? '&' : '?'}${p}`;

(url ? describe : describe.skip)('rabbitmq - quorum queues against a broker', () => {
  let conn: Connection;
  let raw: amqp.ChannelModel;
  const queues: string[] = [];
  const exchanges: string[] = [];

  /** The queue's type as RabbitMQ sees it: a declaration with the other type is refused as inequivalent. */
  const isQuorum = async (q: string, args: Record<string, unknown> = {}): Promise<boolean> => {
    const ch = await raw.createChannel();
    ch.on('error', () => undefined);
    try {
      await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum', ...args } });
      await ch.close();
      return true;
    } catch (err) {
      if (/inequivalent arg 'x-queue-type'/.test(String(err))) return false;
      throw err;
    }
  };

  beforeAll(async () => {
    conn = await connect(withParam(url!, 'queueType=quorum'), { drivers: [driver] });
    raw = await amqp.connect(url!);
    raw.on('error', () => undefined);
  });
  afterAll(async () => {
    const ch = await raw.createChannel();
    for (const q of queues) await ch.deleteQueue(q).catch(() => undefined);
    for (const x of exchanges) await ch.deleteExchange(x).catch(() => undefined);
    await raw.close();
    await conn.close();
  });

  it('queue type - a queue and a topic group are declared as quorum queues', async () => {
    const q = name('qq');
    const t = name('qt');
    queues.push(q, groupQueueName(t, 'g'), `${t}@@stream`, `${t}@@groups`);
    exchanges.push(t);
    await conn.admin.ensureDestination(`queue:${q}`);
    const c = await conn.consumer(`topic:${t}`, { group: 'g' });
    const h = c.consume(async () => undefined);
    await conn.producer().send(`topic:${t}`, { body: 'x' });
    expect(await isQuorum(q)).toBe(true);
    expect(await isQuorum(groupQueueName(t, 'g'))).toBe(true);
    await h.close();
  });

  it('queue type - with partitions the shard queues and the any queue are quorum queues too', async () => {
    const q = name('qshard');
    const sharded = await connect(withParam(url!, 'queueType=quorum&partitions=2'), { drivers: [driver] });
    try {
      queues.push(`${q}@@shard.0`, `${q}@@shard.1`, `${q}@@any`);
      await sharded.producer().send(`queue:${q}`, { body: 'x', key: 'k' });
      const sac = { 'x-single-active-consumer': true };
      expect(await isQuorum(`${q}@@shard.0`, sac)).toBe(true);
      expect(await isQuorum(`${q}@@shard.1`, sac)).toBe(true);
      expect(await isQuorum(`${q}@@any`)).toBe(true);
    } finally {
      await sharded.close();
    }
  });

  it('queue type - with partitions, a member active on every quorum shard hands shards to a member that joins (group size read from the any queue)', async () => {
    const q = name('qshare');
    const u = withParam(url!, 'queueType=quorum&partitions=4&rebalanceIntervalMs=100');
    const first = await connect(u, { drivers: [driver] });
    const second = await connect(u, { drivers: [driver] });
    queues.push(...[0, 1, 2, 3].map((i) => `${q}@@shard.${i}`), `${q}@@any`);
    try {
      // A key for each shard, so the first member becomes active on all four.
      const keys: string[] = [];
      for (let i = 0; keys.length < 4; i++) if (!keys.some((k) => shardOf(k, 4) === shardOf(`k${i}`, 4))) keys.push(`k${i}`);
      const byFirst: string[] = [];
      const bySecond: string[] = [];
      // Handlers take a while, so the group's work outlasts a rebalance look (pacing, not a timed assertion).
      const a = (await first.consumer(`queue:${q}`)).consume(async (d) => {
        byFirst.push(d.text());
        await new Promise((r) => setTimeout(r, 10));
      });
      await first.producer().send(`queue:${q}`, keys.map((key) => ({ body: 'warm', key })));
      await until(() => byFirst.length === 4, 15_000, 'the first member handles one message of each shard');
      const b = (await second.consumer(`queue:${q}`)).consume(async (d) => {
        bySecond.push(d.text());
        await new Promise((r) => setTimeout(r, 10));
      });
      const n = 200;
      await first.producer().send(`queue:${q}`, Array.from({ length: n }, (_, i) => ({ body: `m${i}`, key: keys[i % 4] })));
      await until(() => byFirst.length - 4 + bySecond.length >= n && bySecond.length > 0, 15_000, `all ${n} handled, some by the second member`).catch((e: Error) => { throw new Error(`${e.message} (first: ${byFirst.length}, second: ${bySecond.length})`); });
      await a.close();
      await b.close();
      expect(bySecond.length).toBeGreaterThan(0);
    } finally {
      await first.close();
      await second.close();
    }
  }, 60_000);

  it('queue type - a message whose consumer channel dies counts each return, and past maxAttempts it is dead-lettered', async () => {
    const q = name('qpoison');
    queues.push(q, `${q}-dlq`);
    await conn.producer().send(`queue:${q}`, { body: 'poison' });
    // A consumer that takes the message and dies (its channel closes without an ack), three times.
    for (let i = 0; i < 3; i++) {
      const ch = await raw.createChannel();
      ch.on('error', () => undefined);
      let got: amqp.GetMessage | false = false;
      while (got === false) got = await ch.get(q, { noAck: false });
      await ch.close();
    }
    const c = await conn.consumer(`queue:${q}`, { maxAttempts: 3 });
    const handled: number[] = [];
    const h = c.consume(async (d) => {
      handled.push(d.attempt);
    });
    const dlq = await conn.consumer(`queue:${q}-dlq`);
    const dead = await new Promise<string | undefined>((resolve) => {
      const hd = dlq.consume(async (d) => {
        resolve(d.headers['sb-dead-letter-attempts']);
        void hd.close();
      });
    });
    await h.close();
    expect(handled).toEqual([]);
    expect(dead).toBe('3');
  });
});
