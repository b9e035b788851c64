// Against the real broker (SWITCHBOARD_TEST_RABBITMQ_URL; skipped without it): with queueType=quorum the
// queues of a queue and of a topic group are quorum queues, and a message returned by a dead channel
// counts every return as an attempt (x-delivery-count), so a poison message is dead-lettered.
import { randomUUID } from 'node:crypto';
import { connect, type Connection } from '@switchboard/core';
import amqp from 'amqplib';
import { driver } from '@switchboard/rabbitmq';
import { groupQueueName } from '../src/names';

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
