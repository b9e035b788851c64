import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type ConsumerMessages, type JetStreamManager } from '@nats-io/jetstream';
import { parseUrl } from '@switchboard/core';
import type { BenchParams, BenchTarget, ConsumerSink, TargetFactory } from '../workload';

/**
 * How the raw NATS consumer acks: `ackAck` waits for the server's confirmation (as Switchboard's
 * `ack()` does), `ack` is fire-and-forget (the client's default).
 */
export type NatsAckStyle = 'ackAck' | 'ack';

/**
 * nats.js JetStream doing the workload plainly: a file-backed work-queue stream on one subject;
 * each batch is `js.publish()` per message, awaited together (each resolves with the stream's
 * PubAck); a durable pull consumer with explicit acks read through `consumer.consume({ max_messages: prefetch })`.
 * Each message is acked with `msg.ackAck()` (the server confirms the ack: the guarantee of
 * Switchboard's `ack()`), up to `prefetch` acks in flight at once (as Switchboard's `concurrency`),
 * and counted once its ack was confirmed.
 */
export const rawNats: TargetFactory = (url: string, params: BenchParams): BenchTarget => rawNatsTarget(url, params, 'ackAck');

/**
 * {@link rawNats} acking with `msg.ack()`: fire-and-forget (a lost ack means a redelivery after
 * ack_wait, not an error), counted right after. A weaker guarantee than Switchboard's `ack()`.
 */
export const rawNatsFireAndForget: TargetFactory = (url: string, params: BenchParams): BenchTarget => rawNatsTarget(url, params, 'ack');

function rawNatsTarget(url: string, params: BenchParams, style: NatsAckStyle): BenchTarget {
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
        if (style === 'ack') {
          for await (const m of iter) {
            m.ack();
            sink.onAcked(m.data);
          }
          return;
        }
        let inFlight = 0;
        let slot: (() => void) | undefined;
        for await (const m of iter) {
          if (inFlight >= params.prefetch) await new Promise<void>((resolve) => (slot = resolve));
          inFlight++;
          m.ackAck().then(
            (ok) => {
              inFlight--;
              const s = slot;
              slot = undefined;
              s?.();
              if (ok) sink.onAcked(m.data);
              else sink.onError(new Error('the server did not confirm an ack'));
            },
            (err: unknown) => sink.onError(err),
          );
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
}
