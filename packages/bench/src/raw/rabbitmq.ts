import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import type { BenchParams, BenchTarget, ConsumerSink, TargetFactory } from '../workload';

/**
 * amqplib doing the workload plainly: one connection; a durable classic queue; a confirm channel
 * publishing persistent messages through the default exchange, each batch awaited through the
 * per-message confirm callbacks; a second channel with `prefetch` consuming with manual acks
 * (`channel.ack(msg)`, counted right after). Switchboard's query parameters are dropped from the URL.
 */
export const rawRabbitMQ: TargetFactory = (url: string, params: BenchParams): BenchTarget => amqplibTarget(url, params, false);

/**
 * The same, with each message carrying what a Switchboard queue send puts on it: a `message_id` (a
 * random UUID) and a `timestamp` (send time in seconds), so both sides put the same bytes on the
 * wire and the broker stores and hands out the same properties.
 */
export const rawRabbitMQWithIds: TargetFactory = (url: string, params: BenchParams): BenchTarget => amqplibTarget(url, params, true);

function amqplibTarget(url: string, params: BenchParams, withIds: boolean): BenchTarget {
  const plainUrl = url.replace(/\?.*$/, '');
  let conn: amqp.ChannelModel | undefined;
  let pub: amqp.ConfirmChannel | undefined;
  let sub: amqp.Channel | undefined;
  let queueName: string | undefined;
  let torn: Promise<void> | undefined;
  return {
    async setup(destination: string, sink: ConsumerSink) {
      queueName = destination;
      conn = await amqp.connect(plainUrl);
      conn.on('error', (err: Error) => sink.onError(err));
      pub = await conn.createConfirmChannel();
      await pub.assertQueue(queueName, { durable: true });
      sub = await conn.createChannel();
      await sub.prefetch(params.prefetch);
      const ch = sub;
      await ch.consume(
        queueName,
        (msg) => {
          if (!msg) return sink.onError(new Error('the broker cancelled the consumer'));
          ch.ack(msg);
          sink.onAcked(msg.content);
        },
        { noAck: false },
      );
    },
    async publish(bodies: Buffer[]) {
      const ch = pub!;
      const q = queueName!;
      await Promise.all(
        bodies.map(
          (body) =>
            new Promise<void>((resolve, reject) => {
              const options: amqp.Options.Publish = withIds ? { persistent: true, messageId: randomUUID(), timestamp: Math.floor(Date.now() / 1000) } : { persistent: true };
              ch.sendToQueue(q, body, options, (err: unknown) => (err ? reject(err instanceof Error ? err : new Error('nacked by the broker')) : resolve()));
            }),
        ),
      );
    },
    teardown() {
      torn ??= (async () => {
        await sub?.close().catch(() => undefined);
        if (pub && queueName) await pub.deleteQueue(queueName).catch(() => undefined);
        await pub?.close().catch(() => undefined);
        await conn?.close().catch(() => undefined);
      })();
      return torn;
    },
  };
}
