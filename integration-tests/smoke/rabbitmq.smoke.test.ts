import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { describeWithBroker } from '../harness';

async function roundTrip(url: string, queueArgs: Record<string, unknown>): Promise<string> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    const queue = `smoke-${randomUUID()}`;
    try {
      await channel.assertQueue(queue, { durable: true, arguments: queueArgs });
      channel.sendToQueue(queue, Buffer.from('hello rabbitmq'), { persistent: true });
      const body = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no message within 15s')), 15_000);
        void channel.consume(queue, (msg) => {
          if (!msg) return;
          clearTimeout(timer);
          channel.ack(msg);
          resolve(msg.content.toString());
        });
      });
      return body;
    } finally {
      await channel.deleteQueue(queue);
      await channel.close();
    }
  } finally {
    await connection.close();
  }
}

describeWithBroker('rabbitmq', (broker) => {
  it('rabbitmq smoke - one message published and consumed with amqplib', async () => {
    expect(await roundTrip(broker.url(), {})).toBe('hello rabbitmq');
  });

  it('rabbitmq smoke - a quorum queue is declared and delivers one message', async () => {
    expect(await roundTrip(broker.url(), { 'x-queue-type': 'quorum' })).toBe('hello rabbitmq');
  });

  // What @switchboard/rabbitmq's header check rests on (issue 11, defect 6b): amqplib encodes headers
  // into a 64 KiB buffer and refuses more from inside publish, before writing anything, and the
  // frame_max it negotiates is 131072. An upgrade that changes either shows up here first.
  it('rabbitmq smoke - amqplib refuses a header table over 64 KiB before sending; the channel stays usable', async () => {
    const connection = await amqp.connect(broker.url());
    try {
      expect((connection.connection as unknown as { frameMax: number }).frameMax).toBe(131072);
      const channel = await connection.createConfirmChannel();
      const queue = `smoke-${randomUUID()}`;
      await channel.assertQueue(queue, { durable: false, autoDelete: false });
      // 4 (table length) + 1 + 1 ("h") + 1 + 4 + value = 65536 exactly at the limit.
      const at = 'v'.repeat(65536 - 11);
      expect(() => channel.publish('', queue, Buffer.from('over'), { headers: { h: `${at}v` } })).toThrow(/65536 byte encoding buffer/);
      await new Promise<void>((resolve, reject) => channel.publish('', queue, Buffer.from('at'), { headers: { h: at } }, (err) => (err ? reject(err) : resolve())));
      const got = await channel.get(queue, { noAck: true });
      expect(got && got.content.toString()).toBe('at');
      expect(got && (got.properties.headers?.h as Buffer | string).toString().length).toBe(at.length);
      expect(await channel.get(queue, { noAck: true })).toBe(false);
      await channel.deleteQueue(queue);
      await channel.close();
    } finally {
      await connection.close();
    }
  });

  // The adapter's declarations fall back to a passive declare on this answer, so a queue made quorum
  // by its operator, or a stream with another retention, is used as it is.
  it('rabbitmq smoke - redeclaring a queue with other arguments is 406 PRECONDITION_FAILED "inequivalent arg"', async () => {
    const connection = await amqp.connect(broker.url());
    connection.on('error', () => undefined);
    try {
      const queue = `smoke-${randomUUID()}`;
      const first = await connection.createChannel();
      await first.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      const second = await connection.createChannel();
      second.on('error', () => undefined);
      await expect(second.assertQueue(queue, { durable: true })).rejects.toThrow(/406 \(PRECONDITION-FAILED\).*inequivalent arg 'x-queue-type'/);
      expect((await first.checkQueue(queue)).queue).toBe(queue);
      await first.deleteQueue(queue);
      await first.close();
    } finally {
      await connection.close();
    }
  });
});
