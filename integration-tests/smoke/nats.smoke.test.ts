import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, type JetStreamApiError } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
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

  // What the adapter's name check rests on (issue 11, defect 4): JSMaxNameLen = 255 for stream and
  // consumer names, refused beyond with err_code 10052 / 10102.
  it('nats smoke - stream and durable consumer names: 255 characters work, 256 are refused with 10052 / 10102', async () => {
    const nc: NatsConnection = await connect({ servers: broker.url(), name: 'switchboard-smoke' });
    const id = randomUUID().replace(/-/g, '');
    try {
      const jsm = await jetstreamManager(nc);
      const name = (n: number) => `SMOKE_${id}`.padEnd(n, 'x');
      const code = (err: unknown) => (err as JetStreamApiError).apiError?.().err_code;
      await jsm.streams.add({ name: name(255), subjects: [`smoke.${id}.a`] });
      try {
        const err = await jsm.streams.add({ name: name(256), subjects: [`smoke.${id}.b`] }).catch((e: unknown) => e);
        expect(code(err)).toBe(10052);
        await jsm.consumers.add(name(255), { durable_name: 'd'.repeat(255), ack_policy: AckPolicy.Explicit });
        const err2 = await jsm.consumers.add(name(255), { durable_name: 'd'.repeat(256), ack_policy: AckPolicy.Explicit }).catch((e: unknown) => e);
        expect(code(err2)).toBe(10102);
      } finally {
        await jsm.streams.delete(name(255));
      }
    } finally {
      await nc.drain();
    }
  });

  // What per-member options rest on (issue 11, defect 3): the server applies a changed ack_wait to
  // deliveries already pending (so one member's value must never be written over another's), and
  // ack_wait, max_deliver and max_ack_pending of an existing durable consumer can be updated.
  it('nats smoke - a durable consumer update reaches pending deliveries and may widen ack_wait, max_deliver and max_ack_pending', async () => {
    const nc: NatsConnection = await connect({ servers: broker.url(), name: 'switchboard-smoke' });
    const id = randomUUID().replace(/-/g, '');
    const stream = `SMOKE_${id}`;
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: stream, subjects: [`smoke.${id}`] });
      try {
        const js = jetstream(nc);
        await js.publish(`smoke.${id}`, 'held');
        await jsm.consumers.add(stream, { durable_name: 'd', ack_policy: AckPolicy.Explicit, ack_wait: nanos(30_000), max_deliver: 3, max_ack_pending: 10_000 });
        const consumer = await js.consumers.get(stream, 'd');
        const first = await consumer.next({ expires: 5000 });
        expect(first?.info.deliveryCount).toBe(1);
        // Shrinking ack_wait while the delivery is held: it comes back after the new value.
        await jsm.consumers.update(stream, 'd', { ack_wait: nanos(1000) });
        const started = Date.now();
        const again = await consumer.next({ expires: 10_000 });
        expect(again?.info.deliveryCount).toBe(2);
        expect(Date.now() - started).toBeLessThan(9000);
        const widened = await jsm.consumers.update(stream, 'd', { ack_wait: nanos(60_000), max_deliver: -1, max_ack_pending: -1 });
        expect([widened.config.ack_wait, widened.config.max_deliver, widened.config.max_ack_pending]).toEqual([nanos(60_000), -1, -1]);
        await again!.ackAck();
      } finally {
        await jsm.streams.delete(stream);
      }
    } finally {
      await nc.drain();
    }
  });
});
