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
});
