import { randomUUID } from 'node:crypto';
import { HEADERS, SwitchboardError, type Destination } from '@switchboard/core';
import type { BrokerObject } from '@switchboard/core';
import { idFromBroker, type DriverHost, type DriverSession, type NormalizedMessage } from '@switchboard/core/driver';
import { Kafka, logLevel as kafkaLogLevel, Partitioners, type Admin as KafkaAdmin, type ICustomPartitioner, type KafkaConfig, type PartitionMetadata, type SASLOptions } from 'kafkajs';
import { kafkaCapabilitiesFor } from './capabilities';
import { classifyError } from './classify-error';
import { openKafkaConsumer } from './consumer';
import { ConnectionWatch, kafkaLogCreator, patchKafkaRequestQueue } from './diagnostics';
import { assertKafkaTopic, assertTopicName, groupId, kafkaTopic, replyTopic, retryTopic } from './naming';
import { CONSUMER_RETRY, type ResolvedKafkaOptions } from './options';
import { encodeRecord } from './records';
import { ReplyReader } from './replies';
import { SendQueue, type SendResult } from './send-queue';
import { Serial } from './serial';
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
   * Start-offset lookups on {@link admin} go through here one at a time: kafkajs's admin refreshes
   * one shared metadata for the topics of each lookup, and concurrent lookups (consumers opened at
   * once) can drop each other's topic from it and fail inside kafkajs with a TypeError.
   */
  readonly offsetLookups: Serial;
  /**
   * Appends messages to `topic` (created on first use), with the message id and `extra` headers.
   * Sends of one event-loop turn share one produce request. One promise per message, in order,
   * resolving with its `<partition>:<offset>` once Kafka acknowledged it with acks=all.
   */
  append(topic: string, messages: readonly NormalizedMessage[], extra?: (m: NormalizedMessage) => Record<string, string> | undefined): Promise<string>[];
}

/**
 * Opens the Kafka half of a connection: the admin client and the idempotent producer are connected
 * when it resolves. Rejects with `auth` (SASL refused) or `connection`; stops connecting when
 * `host.signal` fires (core's connect timeout).
 */
export async function openKafkaSession(url: string, options: ResolvedKafkaOptions, host: DriverHost): Promise<DriverSession> {
  patchKafkaRequestQueue();
  const connectMs = Math.min(options.connectTimeoutMs, host.connectTimeoutMs);
  const watch = new ConnectionWatch(host, url);
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
    logCreator: kafkaLogCreator(host.logger),
    socketFactory: watch.socketFactory(options.connectVia === 'bootstrap' ? bootstrapAddress(options.brokers[0]!) : undefined),
  };
  const kafka = new Kafka(config);
  const clusters = trackClusters(kafka);
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

  const topics = new Topics(admin, { partitions: options.partitions, replicationFactor: options.replicationFactor, minInsyncReplicas: options.minInsyncReplicas, timeoutMs: options.requestTimeoutMs });
  const sendQueue = new SendQueue(producer, Math.min(512 * 1024, options.maxMessageBytes), undefined, async (old) => {
    // A new producer id: its sequence numbers start afresh (see SendQueue).
    debugLog('producer sequence out of step with the broker, or a send failed: replacing the producer');
    void old.disconnect().catch(() => undefined);
    const fresh = newProducer();
    try {
      await fresh.connect();
    } catch (err) {
      void fresh.disconnect().catch(() => undefined);
      throw err;
    }
    return fresh;
  });
  const partitionFor = partitionChooser();
  /**
   * Forgets a deleted topic: the topic cache, and the topic lists of this connection's kafkajs
   * clusters. kafkajs keeps every topic a producer ever sent to in its metadata requests, and the
   * broker creates missing topics named there, so without this the producer's next metadata
   * refresh would bring a deleted destination back.
   */
  const forget = (topic: string) => {
    topics.forget(topic);
    for (const c of clusters()) c.targetTopics?.delete(topic);
  };
  /**
   * One promise for the whole call (see {@link SendQueue.push}). `confirm`: a send of the
   * application's, whose messages core lets the broker name ({@link idFromBroker}); they go without
   * `sb-message-id`, all stamped with the time of this call.
   */
  const appendAll = (topic: string, messages: readonly NormalizedMessage[], extra?: (m: NormalizedMessage) => Record<string, string> | undefined, confirm?: boolean) => {
    const known = topics.partitionsOf(topic);
    const stamp = confirm ? String(Date.now()) : undefined;
    const encode = (n: number) =>
      sendQueue.push(
        topic,
        messages.map((m) => encodeRecord(m, partitionFor(topic, n, m.key), extra?.(m), stamp !== undefined && idFromBroker(m, true) ? stamp : undefined)),
      );
    if (known === undefined) return topics.ensure([topic]).then(([n]) => encode(n!));
    try {
      return encode(known);
    } catch (err) {
      return Promise.reject(classifyError(err));
    }
  };
  const client: KafkaClient = {
    options,
    kafka,
    consumerKafka,
    admin,
    topics,
    offsetLookups: new Serial(),
    append(topic, messages, extra) {
      return perMessage(appendAll(topic, messages, extra), messages.length);
    },
  };
  const replies = new ReplyReader(client, replyTopic(randomUUID().replace(/-/g, '').slice(0, 16)), host.replies);

  return {
    url,
    capabilities: kafkaCapabilitiesFor(options.partitions, options.connectVia),
    maxMessageBytes: options.maxMessageBytes - FRAMING_RESERVE,
    limitName: `a Kafka topic (max.message.bytes ${options.maxMessageBytes}, ${FRAMING_RESERVE} bytes kept for framing and Switchboard headers)`,
    checkDestination: assertTopicName,
    brokerNamesMessages: true,
    publish(dest, messages, o) {
      const notBefore = (m: NormalizedMessage) => (m.delayMs && m.delayMs > 0 ? { [HEADERS.notBefore]: String(Date.now() + m.delayMs) } : undefined);
      // One promise for the whole send (core's batch form): each message's offset or its own error.
      return appendAll(kafkaTopic(dest), messages, notBefore, o.confirm);
    },
    async request(dest, message, meta) {
      const replyTo = await replies.ready();
      await Promise.all(client.append(kafkaTopic(dest), [message], () => ({ [HEADERS.replyTo]: replyTo, [HEADERS.correlationId]: meta.correlationId })));
    },
    async reply(replyTo, correlationId, message) {
      assertKafkaTopic(replyTo);
      try {
        await Promise.all(client.append(replyTo, [message], (): Record<string, string> => (correlationId ? { [HEADERS.correlationId]: correlationId } : {})));
      } finally {
        // The requester deletes its reply topic when it closes: a reply topic must not stay in the
        // producer's metadata topics, or its next metadata refresh would create it again.
        for (const c of clusters()) c.targetTopics?.delete(replyTo);
      }
    },
    consumer: (source, o) => openKafkaConsumer(client, source, o),
    async ensureDestination(dest, o) {
      await topics.ensure([kafkaTopic(dest)], { ...(o?.partitions ? { partitions: o.partitions } : {}), ...(o?.retentionMs ? { retentionMs: o.retentionMs } : {}) });
    },
    async deleteDestination(dest) {
      const objects = await kafkaObjects(admin, dest);
      const groups = objects.filter((o) => o.type === 'consumer group').map((o) => o.name);
      const topicNames = [...new Set([kafkaTopic(dest), ...objects.filter((o) => o.type !== 'consumer group').map((o) => o.name)])];
      // Forgotten first, so that no metadata refresh of this connection names (and re-creates) them.
      for (const t of topicNames) forget(t);
      // Topics first, so the destination is gone even while a consumer is still open; a group can be
      // deleted only once its members have left (deleteGroups waits a little for that).
      await deleteTopics(admin, topicNames, options.requestTimeoutMs);
      await deleteGroups(admin, groups);
    },
    async deleteGroup(dest, group) {
      const retry = retryTopic(dest, group);
      await deleteGroups(admin, [groupId(dest, group)]);
      forget(retry);
      await deleteTopics(admin, [retry], options.requestTimeoutMs);
    },
    listObjects: (dest) => kafkaObjects(admin, dest),
    classifyError,
    async close() {
      watch.close();
      await replies.close().catch(() => undefined);
      await sendQueue.flush().catch(() => undefined);
      await Promise.allSettled([sendQueue.current.disconnect(), admin.disconnect()]);
    },
  };
}

/**
 * One promise per message over the one promise of a whole append (for the adapter's own sends:
 * dead letters, retries, requests, replies): each resolves with its `<partition>:<offset>` or
 * rejects with its error.
 */
function perMessage(all: Promise<readonly SendResult[]>, n: number): Promise<string>[] {
  all.catch(() => undefined);
  const out = new Array<Promise<string>>(n);
  for (let i = 0; i < n; i++) {
    out[i] = all.then((r) => {
      const x = r[i]!;
      if (x instanceof Error) throw x;
      return typeof x === 'string' ? x : x.ref;
    });
  }
  return out;
}

/**
 * The partition of a message, the way the Java client picks it (murmur2 of the key, else
 * round-robin), through kafkajs's default partitioner. The partition metadata it reads is built
 * once per partition count, not per message.
 */
export function partitionChooser(make: ICustomPartitioner = Partitioners.DefaultPartitioner): (topic: string, partitions: number, key: string | undefined) => number {
  const partitioner = make();
  const metadata = new Map<number, PartitionMetadata[]>();
  return (topic, partitions, key) => {
    let partitionMetadata = metadata.get(partitions);
    if (!partitionMetadata) {
      partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionErrorCode: 0, partitionId: i, leader: 0, replicas: [0], isr: [0], offlineReplicas: [] }));
      metadata.set(partitions, partitionMetadata);
    }
    return partitioner({ topic, partitionMetadata, message: { key: key ?? null, value: null } });
  };
}

/** The one address every connection goes to with connectVia=bootstrap. */
function bootstrapAddress(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hostPort.slice(i + 1)) };
}

/**
 * The Switchboard group name behind a Kafka group id of `dest`, or undefined when the id is not one
 * of `dest`'s ({@link groupId} is injective: `sb.<K>.<g>` for a group without ".", `sb.<K>:<g>` with one).
 */
export function groupOf(dest: Destination, id: string): string | undefined {
  const k = kafkaTopic(dest);
  if (!id.startsWith(`sb.${k}`)) return undefined;
  const rest = id.slice(`sb.${k}`.length);
  const g = rest.slice(1);
  if (g.length === 0 || (rest[0] !== '.' && rest[0] !== ':')) return undefined;
  return groupId(dest, g) === id ? g : undefined;
}

/**
 * What the adapter made on the broker for `dest`: its topic, the consumer groups of its
 * Switchboard groups (found by id, see {@link groupOf}), and their retry topics (by the group's
 * name, plus every topic `<K>.sb-retry.*`, which no other destination's names can take).
 */
export async function kafkaObjects(admin: KafkaAdmin, dest: Destination): Promise<BrokerObject[]> {
  const k = kafkaTopic(dest);
  const [topicList, { groups }] = await Promise.all([admin.listTopics(), admin.listGroups()]);
  const existing = new Set(topicList);
  const out: BrokerObject[] = [];
  if (existing.has(k)) out.push({ type: 'topic', name: k });
  const retries = new Map<string, string | undefined>();
  for (const t of topicList) if (t.startsWith(`${k}.sb-retry.`)) retries.set(t, undefined);
  for (const { groupId: id } of groups) {
    const g = groupOf(dest, id);
    if (g === undefined) continue;
    out.push({ type: 'consumer group', name: id, group: g });
    const r = retryTopic(dest, g);
    if (existing.has(r)) retries.set(r, g);
  }
  for (const [name, g] of retries) out.push({ type: 'retry topic', name, ...(g !== undefined ? { group: g } : {}) });
  return out;
}

/**
 * Deletes consumer groups; one that does not exist is fine. A group that still has members (a
 * consumer that is closing, or still open) is tried again for up to 3 s, then `invalid_argument`.
 */
async function deleteGroups(admin: KafkaAdmin, ids: string[]): Promise<void> {
  for (let waited = 0; ; waited += 300) {
    try {
      return await deleteGroupsOnce(admin, ids);
    } catch (err) {
      if (!(err instanceof SwitchboardError) || err.code !== 'invalid_argument' || waited >= 3000) throw err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

async function deleteGroupsOnce(admin: KafkaAdmin, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  try {
    await admin.deleteGroups(ids);
  } catch (err) {
    // kafkajs throws one KafkaJSDeleteGroupsError for the lot; a group that is already gone is fine.
    type Failed = { groupId: string; errorCode: number; error?: { type?: string; message?: string } };
    let e = err as { groups?: Failed[]; originalError?: unknown; cause?: unknown } | undefined;
    for (let i = 0; i < 3 && e && !e.groups; i++) e = (e.originalError ?? e.cause) as typeof e;
    const failed = e?.groups;
    const real = failed?.filter((g) => g.errorCode !== 0 && g.error?.type !== 'GROUP_ID_NOT_FOUND') ?? [err];
    if (real.length === 0) return;
    const first = real[0] as { groupId?: string; error?: { type?: string; message?: string } };
    if (first.error?.type === 'NON_EMPTY_GROUP') {
      throw new SwitchboardError('invalid_argument', `kafka: consumer group ${first.groupId} still has members: close its consumers before deleting it`, { cause: err });
    }
    throw classifyError(err);
  }
}

export async function deleteTopics(admin: KafkaAdmin, names: string[], timeoutMs: number): Promise<void> {
  const deleteOnce = async (t: string): Promise<void> => {
    try {
      await admin.deleteTopics({ topics: [t], timeout: timeoutMs });
    } catch (err) {
      const c = classifyError(err);
      if (c.code !== 'not_found') throw c;
    }
  };
  for (const t of names) await deleteOnce(t);
  // A delete is acknowledged once the controller has it; a broker may list the topic a little
  // longer, and with `auto.create.topics.enable` (Kafka's default) a metadata request that was
  // already on its way can create it again. Resolve only once no listed topic remains.
  const deadline = Date.now() + timeoutMs;
  for (let round = 1; ; round++) {
    const listed = new Set(await admin.listTopics());
    const left = names.filter((t) => listed.has(t));
    if (left.length === 0) return;
    if (Date.now() >= deadline) {
      throw new SwitchboardError('timeout', `Kafka still lists ${left.join(', ')} ${timeoutMs} ms after deleting it`, { details: { topics: left } });
    }
    await new Promise((r) => setTimeout(r, 200));
    if (round % 5 === 0) for (const t of left) await deleteOnce(t);
  }
}

type TrackedCluster = { targetTopics?: Set<string> };

/**
 * Collects the kafkajs clusters `kafka` creates (one per producer and admin client) so that a
 * deleted topic can be removed from their topic lists. kafkajs 2.2.4 has no public way to do that;
 * when its internals differ, nothing is collected and nothing breaks. Held weakly: a producer
 * replaced after a failed send (see SendQueue) takes its cluster with it. Returns the live ones.
 */
function trackClusters(kafka: Kafka): () => TrackedCluster[] {
  const refs = new Set<WeakRef<TrackedCluster>>();
  const k = kafka as unknown as Record<symbol, unknown>;
  const sym = Object.getOwnPropertySymbols(k).find((x) => x.description === 'private:Kafka:createCluster');
  const create = sym ? k[sym] : undefined;
  if (sym && typeof create === 'function') {
    k[sym] = (...args: unknown[]) => {
      const cluster = (create as (...a: unknown[]) => TrackedCluster)(...args);
      if (cluster && cluster.targetTopics instanceof Set) refs.add(new WeakRef(cluster));
      return cluster;
    };
  }
  return () => {
    const live: TrackedCluster[] = [];
    for (const r of refs) {
      const c = r.deref();
      if (c) live.push(c);
      else refs.delete(r);
    }
    return live;
  };
}
