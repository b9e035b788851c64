import amqp from 'amqplib';
import type { BenchParams, BenchTarget, ConsumerSink, TargetFactory } from '../workload';

/**
 * amqplib doing the workload plainly: one connection; a durable classic queue; a confirm channel
 * publishing persistent messages through the default exchange, each batch awaited through the
 * per-message confirm callbacks; a second channel with `prefetch` consuming with manual acks
 * (`channel.ack(msg)`, counted right after). Switchboard's query parameters are dropped from the URL.
 */
export const rawRabbitMQ: TargetFactory = (url: string, params: BenchParams): BenchTarget => {
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
              ch.sendToQueue(q, body, { persistent: true }, (err: unknown) => (err ? reject(err instanceof Error ? err : new Error('nacked by the broker')) : resolve()));
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
};
