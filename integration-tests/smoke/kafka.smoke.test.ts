import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Consumer, type Producer, type Admin } from 'kafkajs';
import { describeWithBroker } from '../harness';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

describeWithBroker('kafka', (broker) => {
  it('kafka smoke - one message produced and consumed with kafkajs', async () => {
    const kafka = new Kafka({
      clientId: 'switchboard-smoke',
      brokers: [new URL(broker.url()).host],
      logLevel: logLevel.NOTHING,
    });
    const topic = `smoke-${randomUUID()}`;
    const admin: Admin = kafka.admin();
    const producer: Producer = kafka.producer();
    const consumer: Consumer = kafka.consumer({ groupId: `smoke-${randomUUID()}` });
    try {
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      await producer.connect();
      await producer.send({ topic, messages: [{ key: 'k1', value: 'hello kafka' }] });

      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const received = await new Promise<{ key: string; value: string }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no message within 30s')), 30_000);
        void consumer.run({
          eachMessage: async ({ message }) => {
            clearTimeout(timer);
            resolve({ key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' });
          },
        });
      });
      expect(received).toEqual({ key: 'k1', value: 'hello kafka' });
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  }, 60_000);
});
