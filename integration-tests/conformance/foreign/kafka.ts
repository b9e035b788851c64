// The IX cases' foreign side for Kafka: kafkajs alone, never Switchboard, on the topics and groups the
// adapter uses, in the wire format packages/kafka/README.md ("Wire format") documents:
// - queue `q` is the topic `q.sb-queue`, topic `t` the topic `t`; records are partitioned by key with
//   murmur2 (kafkajs's DefaultPartitioner, the Java client's);
// - key: the record key; id: the `sb-message-id` header; headers: record headers as UTF-8 strings
//   (a repeated name: its last value);
// - a foreign reader is a consumer group of its own (`ix-foreign.<uuid>`), deleted on close;
// - request/reply: the README's convention (reply topic in `sb-reply-to`, `sb-correlation-id`).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Kafka, logLevel, Partitioners, type Consumer, type IHeaders, type KafkaConfig, type KafkaMessage, type SASLOptions } from 'kafkajs';
import { parseUrl, type Destination } from '@switchboard/core';
import type { ForeignClient, ForeignMessage, ForeignSide } from '@switchboard/conformance';

/** Headers the adapter writes for itself: not the application's. */
const INTERNAL = new Set(['sb-message-id', 'sb-attempt', 'sb-not-before', 'sb-reply-to', 'sb-correlation-id', 'sb-origin-topic', 'sb-origin-ref', 'sb-origin-timestamp']);

const topicOf = (dest: Destination) => (dest.kind === 'queue' ? `${dest.name}.sb-queue` : dest.name);

function text(v: IHeaders[string]): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return text(v[v.length - 1]);
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

function toForeign(m: KafkaMessage): ForeignMessage {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    const t = text(v);
    if (t !== undefined && !INTERNAL.has(k)) headers[k] = t;
  }
  return { body: new Uint8Array(m.value ?? Buffer.alloc(0)), key: m.key ? m.key.toString('utf8') : undefined, headers, id: text(m.headers?.['sb-message-id']) };
}

/**
 * kafkajs settings from a kafka:// URL, the way a kafkajs user would write them: the broker list,
 * TLS (`ssl=true`, `ca=<PEM file>`) and SASL (`sasl=<mechanism>` with the URL's user and password).
 * Other query parameters are the adapter's (connectVia=bootstrap needs nothing more on one broker).
 */
function kafkajsConfig(url: string): Pick<KafkaConfig, 'brokers' | 'ssl' | 'sasl'> {
  const u = parseUrl(url);
  const q = u.params;
  const ca = q.ca;
  const ssl = ca ? { ca: [readFileSync(ca, 'utf8')] } : q.ssl === 'true' ? true : undefined;
  const mechanism = q.sasl as 'plain' | 'scram-sha-256' | 'scram-sha-512' | undefined;
  const sasl = mechanism && u.username ? { mechanism, username: u.username, password: u.password ?? '' } : undefined;
  return { brokers: u.hosts.map((h) => `${h.host}:${h.port ?? 9092}`), ...(ssl ? { ssl } : {}), ...(sasl ? { sasl: sasl as SASLOptions } : {}) };
}

async function open(url: string): Promise<ForeignClient> {
  const kafka = new Kafka({ clientId: 'switchboard-ix-foreign', ...kafkajsConfig(url), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await Promise.all([admin.connect(), producer.connect()]);
  const readers: { consumer: Consumer; group: string }[] = [];
  /** A plain kafkajs consumer in a group of its own, and a promise that settles when it joined. */
  const groupConsumer = () => {
    const group = `ix-foreign.${randomUUID()}`;
    const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 100, allowAutoTopicCreation: false });
    const joined = new Promise<void>((res) => {
      const off = consumer.on(consumer.events.GROUP_JOIN, () => (off(), res()));
    });
    return { consumer, group, joined };
  };
  /**
   * Reads `topic` from the beginning (the destination is new, and a reader that starts at "latest"
   * could miss a record sent while kafkajs looks up its first offsets).
   */
  const read = async (consumer: Consumer, topic: string, eachMessage: (message: KafkaMessage) => Promise<void>) => {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: ({ message }) => eachMessage(message) });
  };
  return {
    async publish(dest, m) {
      const headers: Record<string, string> = { ...(m.headers ?? {}) };
      if (m.id !== undefined) headers['sb-message-id'] = m.id;
      await producer.send({ topic: topicOf(dest), acks: -1, messages: [{ key: m.key ?? null, value: Buffer.from(m.body), headers }] });
    },
    async receive(dest, n, timeoutMs) {
      const { consumer, group, joined } = groupConsumer();
      readers.push({ consumer, group });
      const got: ForeignMessage[] = [];
      let done!: (m: ForeignMessage[]) => void;
      let fail!: (e: Error) => void;
      const messages = new Promise<ForeignMessage[]>((res, rej) => ((done = res), (fail = rej)));
      const timer = setTimeout(() => fail(new Error(`the foreign consumer got ${got.length} of ${n} messages within ${timeoutMs} ms`)), timeoutMs);
      messages.then(() => clearTimeout(timer), () => undefined);
      await read(consumer, topicOf(dest), async (message) => {
        if (got.length >= n) return;
        got.push(toForeign(message));
        if (got.length === n) done(got);
      });
      return { ready: joined, messages };
    },
    async respond(dest, answer) {
      // Switchboard's documented convention: reply to the topic in sb-reply-to, with the request's sb-correlation-id.
      const { consumer, group, joined } = groupConsumer();
      readers.push({ consumer, group });
      await read(consumer, topicOf(dest), async (message) => {
        const replyTo = text(message.headers?.['sb-reply-to']);
        const correlation = text(message.headers?.['sb-correlation-id']);
        if (!replyTo || !correlation) return;
        await producer.send({ topic: replyTo, acks: -1, messages: [{ value: answer(toForeign(message)), headers: { 'sb-correlation-id': correlation } }] });
      });
      await joined;
      return { close: () => consumer.disconnect() };
    },
    async request(dest, body, timeoutMs) {
      const replyTopic = `ix-reply.${randomUUID()}`;
      const correlation = randomUUID();
      await admin.createTopics({ topics: [{ topic: replyTopic, numPartitions: 1 }], waitForLeaders: true });
      const { consumer, group, joined } = groupConsumer();
      try {
        let done!: (m: ForeignMessage) => void;
        const reply = new Promise<ForeignMessage>((res) => (done = res));
        await read(consumer, replyTopic, async (message) => {
          if (text(message.headers?.['sb-correlation-id']) === correlation) done(toForeign(message));
        });
        await joined;
        await producer.send({ topic: topicOf(dest), acks: -1, messages: [{ value: body, headers: { 'sb-reply-to': replyTopic, 'sb-correlation-id': correlation } }] });
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`no reply on ${replyTopic} within ${timeoutMs} ms`)), timeoutMs)));
        try {
          return await Promise.race([reply, timeout]);
        } finally {
          clearTimeout(timer);
        }
      } finally {
        await consumer.disconnect().catch(() => undefined);
        await admin.deleteGroups([group]).catch(() => undefined);
        await admin.deleteTopics({ topics: [replyTopic] }).catch(() => undefined);
      }
    },
    async listObjects() {
      const [topics, { groups }] = await Promise.all([admin.listTopics(), admin.listGroups()]);
      return [...topics.map((t) => `topic:${t}`), ...groups.map((g) => `group:${g.groupId}`)];
    },
    async close() {
      for (const r of readers) await r.consumer.disconnect().catch(() => undefined);
      if (readers.length > 0) await admin.deleteGroups(readers.map((r) => r.group)).catch(() => undefined);
      await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    },
  };
}

/** The IX foreign side of every kafka:// variant. */
export const kafkaForeign: ForeignSide = {
  open,
  typedHeaders: {
    reason: 'Kafka record headers have no types: every value is a byte string (Switchboard reads it as UTF-8), so there is no typed value to render',
  },
  // Kafka has no reply convention of its own: respond/request follow Switchboard's documented one
  // (packages/kafka/README.md, Wire format: sb-reply-to names the reply topic, sb-correlation-id the request).
  nativeRequestReply: true,
  stableIds: true,
};
