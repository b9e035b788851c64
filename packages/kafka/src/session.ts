import { randomUUID } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { HEADERS, SwitchboardError } from '@switchboard/core';
import type { DriverHost, DriverSession, NormalizedMessage } from '@switchboard/core/driver';
import { Kafka, logLevel as kafkaLogLevel, Partitioners, type Admin as KafkaAdmin, type ISocketFactory, type KafkaConfig, type SASLOptions } from 'kafkajs';
import { kafkaCapabilitiesFor } from './capabilities';
import { classifyError } from './classify-error';
import { openKafkaConsumer } from './consumer';
import { assertKafkaTopic, assertTopicName, kafkaTopic, replyTopic } from './naming';
import { CONSUMER_RETRY, type ResolvedKafkaOptions } from './options';
import { encodeRecord } from './records';
import { ReplyReader } from './replies';
import { SendQueue } from './send-queue';
import { Topics } from './topics';

const LOG_LEVELS = {
  nothing: kafkaLogLevel.NOTHING,
  error: kafkaLogLevel.ERROR,
  warn: kafkaLogLevel.WARN,
  info: kafkaLogLevel.INFO,
  debug: kafkaLogLevel.DEBUG,
} as const;

const debugLog = (m: string) => {
  if (process.env.SB_KAFKA_DEBUG === '1') process.stderr.write(`[sb-kafka ${new Date().toISOString().slice(11, 23)}] ${m}\n`);
};

/** Bytes reserved for record framing and the headers the adapter adds. */
const FRAMING_RESERVE = 512;

/**
 * What the session's parts share: one kafkajs client, its admin client, and the one idempotent
 * producer every send, retry, dead letter and reply goes through.
 */
export interface KafkaClient {
  readonly options: ResolvedKafkaOptions;
  readonly kafka: Kafka;
  /** The client group members (and reply readers) are made from: same settings, retries of {@link CONSUMER_RETRY}. */
  readonly consumerKafka: Kafka;
  readonly admin: KafkaAdmin;
  readonly topics: Topics;
  /**
   * Appends messages to `topic` (created on first use), with the message id and `extra` headers.
   * Sends of one event-loop turn share one produce request. One promise per message, in order,
   * resolving with its `<partition>:<offset>` once Kafka acknowledged it with acks=all.
   */
  append(topic: string, messages: readonly NormalizedMessage[], extra?: (m: NormalizedMessage) => Record<string, string>): Promise<string>[];
}

/**
 * Opens the Kafka half of a connection: the admin client and the idempotent producer are connected
 * when it resolves. Rejects with `auth` (SASL refused) or `connection`; stops connecting when
 * `host.signal` fires (core's connect timeout).
 */
export async function openKafkaSession(url: string, options: ResolvedKafkaOptions, host: DriverHost): Promise<DriverSession> {
  const connectMs = Math.min(options.connectTimeoutMs, host.connectTimeoutMs);
  const config: KafkaConfig = {
    clientId: options.clientId,
    brokers: options.brokers,
    ...(options.ssl !== undefined ? { ssl: options.ssl } : {}),
    ...(options.sasl ? { sasl: options.sasl as SASLOptions } : {}),
    connectionTimeout: Math.min(connectMs, 3000),
    authenticationTimeout: Math.min(connectMs, 5000),
    requestTimeout: options.requestTimeoutMs,
    retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 12 },
    logLevel: LOG_LEVELS[options.logLevel],
    ...(options.connectVia === 'bootstrap' ? { socketFactory: bootstrapSocketFactory(options.brokers[0]!) } : {}),
  };
  const kafka = new Kafka(config);
  // Group members get a client of their own whose retries outlast a broker restart (CONSUMER_RETRY).
  const consumerKafka = new Kafka({ ...config, retry: CONSUMER_RETRY });
  const admin = kafka.admin({ retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 5 } });
  // maxRetryTime 1 s: after a broker restart a waiting send is tried again within a second of the
  // broker being back (3 s before); 25 retries keep about the same ~20 s before a send gives up.
  const newProducer = () =>
    kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: true,
      retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 25 },
    });
  const producer = newProducer();
  const giveUp = () => void Promise.allSettled([admin.disconnect(), producer.disconnect()]);
  host.signal.addEventListener('abort', giveUp, { once: true });
  try {
    await Promise.all([admin.connect(), producer.connect()]);
  } catch (err) {
    await Promise.allSettled([admin.disconnect(), producer.disconnect()]);
    const c = classifyError(err);
    if (c.code === 'auth' || c.code === 'connection') throw c;
    throw new SwitchboardError('connection', `kafka: cannot connect to ${url}: ${c.message}`, { cause: err });
  } finally {
    host.signal.removeEventListener('abort', giveUp);
  }

  const topics = new Topics(admin, { partitions: options.partitions, replicationFactor: options.replicationFactor, timeoutMs: options.requestTimeoutMs });
  const sendQueue = new SendQueue(producer, Math.min(512 * 1024, options.maxMessageBytes), undefined, async (old) => {
    // A new producer id: its sequence numbers start afresh (see SendQueue).
    debugLog('producer sequence out of step with the broker: replacing the producer');
    void old.disconnect().catch(() => undefined);
    const fresh = newProducer();
    await fresh.connect();
    return fresh;
  });
  const partitioner = Partitioners.DefaultPartitioner();
  /** The partition of a message, the way the Java client picks it (murmur2 of the key, else round-robin). */
  const partitionFor = (topic: string, partitions: number, key: string | undefined) => {
    const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionErrorCode: 0, partitionId: i, leader: 0, replicas: [0], isr: [0] }));
    return partitioner({ topic, partitionMetadata, message: { key: key ?? null, value: null } });
  };
  const client: KafkaClient = {
    options,
    kafka,
    consumerKafka,
    admin,
    topics,
    append(topic, messages, extra = () => ({})) {
      const queued = topics
        .ensure([topic])
        .then(([n]) => sendQueue.push(topic, messages.map((m) => encodeRecord(m, partitionFor(topic, n!, m.key), extra(m)))));
      queued.catch(() => undefined);
      return messages.map((_, i) => queued.then((refs) => refs[i]!));
    },
  };
  const replies = new ReplyReader(client, replyTopic(randomUUID().replace(/-/g, '').slice(0, 16)), host.replies);

  return {
    url,
    capabilities: kafkaCapabilitiesFor(options.partitions, options.connectVia),
    maxMessageBytes: options.maxMessageBytes - FRAMING_RESERVE,
    limitName: `a Kafka topic (max.message.bytes ${options.maxMessageBytes}, ${FRAMING_RESERVE} bytes kept for framing and Switchboard headers)`,
    checkDestination: assertTopicName,
    publish(dest, messages, { confirm }) {
      const notBefore = (m: NormalizedMessage): Record<string, string> => (m.delayMs && m.delayMs > 0 ? { [HEADERS.notBefore]: String(Date.now() + m.delayMs) } : {});
      const refs = client.append(kafkaTopic(dest), messages, notBefore);
      return confirm ? refs : refs.map((r) => r.then(() => undefined));
    },
    async request(dest, message, meta) {
      const replyTo = await replies.ready();
      await Promise.all(client.append(kafkaTopic(dest), [message], () => ({ [HEADERS.replyTo]: replyTo, [HEADERS.correlationId]: meta.correlationId })));
    },
    async reply(replyTo, correlationId, message) {
      assertKafkaTopic(replyTo);
      await Promise.all(client.append(replyTo, [message], (): Record<string, string> => (correlationId ? { [HEADERS.correlationId]: correlationId } : {})));
    },
    consumer: (source, o) => openKafkaConsumer(client, source, o),
    async ensureDestination(dest, o) {
      await topics.ensure([kafkaTopic(dest)], { ...(o?.partitions ? { partitions: o.partitions } : {}), ...(o?.retentionMs ? { retentionMs: o.retentionMs } : {}) });
    },
    async deleteDestination(dest) {
      try {
        await admin.deleteTopics({ topics: [kafkaTopic(dest)], timeout: options.requestTimeoutMs });
      } catch (err) {
        const c = classifyError(err);
        if (c.code !== 'not_found') throw c;
      } finally {
        topics.forget(kafkaTopic(dest));
      }
    },
    classifyError,
    async close() {
      await replies.close().catch(() => undefined);
      await sendQueue.flush().catch(() => undefined);
      await Promise.allSettled([sendQueue.current.disconnect(), admin.disconnect()]);
    },
  };
}

/** A kafkajs socket factory that sends every connection to one address (connectVia=bootstrap). */
function bootstrapSocketFactory(hostPort: string): ISocketFactory {
  const i = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(hostPort.slice(i + 1));
  return ({ ssl, onConnect }) => {
    const socket = ssl
      ? tls.connect({ host, port, ...(net.isIP(host) ? {} : { servername: host }), ...(typeof ssl === 'object' ? ssl : {}) }, onConnect)
      : net.connect({ host, port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    return socket;
  };
}
