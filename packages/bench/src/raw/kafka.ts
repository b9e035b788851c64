import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import { HEADERS, parseUrl } from '@switchboard/core';
import type { BenchParams, BenchTarget, ConsumerSink, TargetFactory } from '../workload';

/** Partitions of the raw run's topic: the same as the Switchboard adapter's default. */
export const RAW_KAFKA_PARTITIONS = 3;

/** How the raw kafkajs consumer hands messages over: one call per message, or one per fetched batch. */
export type KafkaConsumeStyle = 'eachMessage' | 'eachBatch';

/**
 * kafkajs doing the workload plainly: a topic with 3 partitions; an idempotent producer
 * (acks=all, one request in flight, as Switchboard's) sending each batch as one `producer.send`;
 * a consumer group reading from the beginning with `eachMessage` and kafkajs' default commits
 * (after each batch), counted once `eachMessage` returns. The consumer's `maxWaitTimeInMs` is 100,
 * the adapter's default. Plain `kafka://host:port[,host:port]` URLs only (no TLS or SASL).
 */
export const rawKafka: TargetFactory = (url: string, params: BenchParams): BenchTarget => rawKafkaTarget(url, params, 'eachMessage');

/**
 * {@link rawKafka} with `eachBatch`: each fetched batch is handed over whole; every message is
 * counted and its offset resolved (`resolveOffset`) in order, with a heartbeat after the batch, and
 * kafkajs commits the resolved offsets after the batch (its default `eachBatchAutoResolve`).
 * Same guarantee as `eachMessage` (at-least-once, commit after processing), fewer promises per message.
 */
export const rawKafkaBatch: TargetFactory = (url: string, params: BenchParams): BenchTarget => rawKafkaTarget(url, params, 'eachBatch');

/**
 * {@link rawKafka} (`eachMessage`) with each record carrying the one header a Switchboard send puts
 * on it, `sb-message-id` (a random UUID), so both sides put the same bytes on the wire and kafkajs
 * encodes and decodes the same header on both.
 */
export const rawKafkaWithIds: TargetFactory = (url: string, params: BenchParams): BenchTarget => rawKafkaTarget(url, params, 'eachMessage', true);

function rawKafkaTarget(url: string, _params: BenchParams, style: KafkaConsumeStyle, withIds = false): BenchTarget {
  const parsed = parseUrl(url);
  const brokers = parsed.hosts.map((h) => `${h.host}:${h.port ?? 9092}`);
  const kafka = new Kafka({ clientId: 'switchboard-bench-raw', brokers, logLevel: logLevel.NOTHING });
  let admin: Admin | undefined;
  let producer: Producer | undefined;
  let consumer: Consumer | undefined;
  let topic: string | undefined;
  let torn: Promise<void> | undefined;
  return {
    async setup(destination: string, sink: ConsumerSink) {
      topic = destination;
      admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: RAW_KAFKA_PARTITIONS }], waitForLeaders: true });
      producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      consumer = kafka.consumer({ groupId: `${topic}.group`, maxWaitTimeInMs: 100, sessionTimeout: 10_000, heartbeatInterval: 500 });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const joined = new Promise<void>((resolve) => consumer!.on(consumer!.events.GROUP_JOIN, () => resolve()));
      consumer.on(consumer.events.CRASH, (e) => sink.onError(e.payload.error));
      if (style === 'eachMessage') {
        await consumer.run({
          eachMessage: async ({ message }) => {
            if (message.value) sink.onAcked(message.value);
          },
        });
      } else {
        await consumer.run({
          eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
            for (const message of batch.messages) {
              if (message.value) sink.onAcked(message.value);
              resolveOffset(message.offset);
            }
            await heartbeat();
          },
        });
      }
      await joined;
    },
    async publish(bodies: Buffer[]) {
      const messages = withIds ? bodies.map((value) => ({ value, headers: { [HEADERS.messageId]: randomUUID() } })) : bodies.map((value) => ({ value }));
      await producer!.send({ topic: topic!, acks: -1, messages });
    },
    teardown() {
      torn ??= (async () => {
        await consumer?.disconnect().catch(() => undefined);
        await producer?.disconnect().catch(() => undefined);
        if (admin && topic) await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
        await admin?.disconnect().catch(() => undefined);
      })();
      return torn;
    },
  };
}
