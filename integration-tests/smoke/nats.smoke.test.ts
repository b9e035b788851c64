import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { describeWithBroker } from '../harness';

describeWithBroker('nats', (broker) => {
  it('nats smoke - one message published to a JetStream stream and consumed with @nats-io/jetstream', async () => {
    const nc: NatsConnection = await connect({ servers: broker.url(), name: 'switchboard-smoke' });
    const id = randomUUID().replace(/-/g, '');
    const stream = `SMOKE_${id}`;
    const subject = `smoke.${id}`;
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: stream, subjects: [subject] });
      try {
        const js = jetstream(nc);
        const ack = await js.publish(subject, 'hello nats');
        expect(ack.seq).toBe(1);

        await jsm.consumers.add(stream, { durable_name: 'smoke', ack_policy: AckPolicy.Explicit });
        const consumer = await js.consumers.get(stream, 'smoke');
        const msg = await consumer.next({ expires: 5_000 });
        expect(msg).not.toBeNull();
        expect(msg!.string()).toBe('hello nats');
        await msg!.ackAck();
      } finally {
        await jsm.streams.delete(stream);
      }
    } finally {
      await nc.drain();
    }
  });
});
