import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type ConsumerMessages, type JetStreamManager } from '@nats-io/jetstream';
import { parseUrl } from '@switchboard/core';
import type { BenchParams, BenchTarget, ConsumerSink, TargetFactory } from '../workload';

/**
 * nats.js JetStream doing the workload plainly: a file-backed work-queue stream on one subject;
 * each batch is `js.publish()` per message, awaited together (each resolves with the stream's
 * PubAck); a durable pull consumer with explicit acks read through `consumer.consume({ max_messages: prefetch })`,
 * acked with `msg.ack()` (fire-and-forget, the client's default) and counted right after.
 */
export const rawNats: TargetFactory = (url: string, params: BenchParams): BenchTarget => {
  const parsed = parseUrl(url);
  const servers = parsed.hosts.map((h) => `${h.host}:${h.port ?? 4222}`);
  let nc: NatsConnection | undefined;
  let jsm: JetStreamManager | undefined;
  let messages: ConsumerMessages | undefined;
  let stream: string | undefined;
  let subject: string | undefined;
  let loop: Promise<void> | undefined;
  let torn: Promise<void> | undefined;
  return {
    async setup(destination: string, sink: ConsumerSink) {
      stream = destination.replace(/[^A-Za-z0-9_-]/g, '_');
      subject = `bench.${stream}`;
      nc = await connect({
        servers,
        name: 'switchboard-bench-raw',
        ...(parsed.username !== undefined && parsed.password === undefined ? { token: parsed.username } : {}),
        ...(parsed.username !== undefined && parsed.password !== undefined ? { user: parsed.username, pass: parsed.password } : {}),
      });
      jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: stream, subjects: [subject], retention: RetentionPolicy.Workqueue, storage: StorageType.File });
      await jsm.consumers.add(stream, { durable_name: 'bench', ack_policy: AckPolicy.Explicit });
      const consumer = await jetstream(nc).consumers.get(stream, 'bench');
      messages = await consumer.consume({ max_messages: params.prefetch });
      const iter = messages;
      loop = (async () => {
        for await (const m of iter) {
          m.ack();
          sink.onAcked(m.data);
        }
      })();
      loop.catch((err: unknown) => sink.onError(err));
    },
    async publish(bodies: Buffer[]) {
      const js = jetstream(nc!);
      await Promise.all(bodies.map((b) => js.publish(subject!, b)));
    },
    teardown() {
      torn ??= (async () => {
        await messages?.close().catch(() => undefined);
        await loop?.catch(() => undefined);
        if (jsm && stream) await jsm.streams.delete(stream).catch(() => undefined);
        await nc?.close().catch(() => undefined);
      })();
      return torn;
    },
  };
};
