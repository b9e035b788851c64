import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { SQSClient, CreateQueueCommand, DeleteQueueCommand, ReceiveMessageCommand, DeleteMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type ConsumerMessages, type JetStreamManager } from '@nats-io/jetstream';
import amqp from 'amqplib';
import { Kafka, logLevel, type Admin, type Consumer as KafkaConsumer, type Producer as KafkaProducer } from 'kafkajs';
import { connect as coreConnect, parseUrl, queue, type Connection, type ConsumeHandle, type Consumer, type Producer } from '@switchboard/core';
import { tryGc } from './memory-sampler';
import { sqsClientConfig } from './raw/sqs';
import { percentileSorted } from './stats';
import type { ConnectFn } from './switchboard-target';

/** Bounds of `--consumers K`. */
export const IDLE_LIMITS = { defaultConsumers: 100, maxConsumers: 1000, defaultIdleSeconds: 30, defaultProbes: 20 } as const;

/** What the idle-consumers measurement does. */
export interface IdleParams {
  /** Idle consumers to create, each on its own queue (1 to {@link IDLE_LIMITS.maxConsumers}). */
  readonly consumers: number;
  /** How long they sit idle while CPU is measured. */
  readonly idleMs: number;
  /** Confirmed sends to distinct consumers' queues after the idle period, timed (0: none). */
  readonly probes: number;
  /** Prefetch of each consumer (the bench default, 256, unless given). */
  readonly prefetch: number;
  /** Creating all consumers, or idling, or probing, longer than this fails the measurement. */
  readonly deadlineMs: number;
}

/** The process at one moment, after a forced GC. Bytes and counts. */
export interface ProcessSnapshot {
  readonly heapUsed: number;
  readonly rss: number;
  /** Open file descriptors that are sockets (from /proc/self/fd; NaN where there is no /proc). */
  readonly sockets: number;
  readonly fds: number;
}

/** What one idle-consumers measurement saw. Times in milliseconds. */
export interface IdleMeasurement {
  readonly consumers: number;
  /** After connecting, before any destination or consumer. */
  readonly base: ProcessSnapshot;
  /** Right after the last consumer was created. */
  readonly created: ProcessSnapshot;
  /** After the idle period. */
  readonly idle: ProcessSnapshot;
  /** Creating every destination and consumer (one after the other where the client allows it). */
  readonly createMs: number;
  /** Of that, the first and the second half of the consumers (a linear cost gives two similar halves). */
  readonly createFirstHalfMs: number;
  readonly createSecondHalfMs: number;
  /** The connection alone, idle (before the consumers), and its CPU time (user + system). */
  readonly baseIdleMs: number;
  readonly baseIdleCpuMs: number;
  /** With every consumer idle, and the process's CPU time over it. */
  readonly idleMs: number;
  readonly idleCpuMs: number;
  /** Confirmed single sends to distinct consumers' queues after the idle period: send p50 and max, and until every probe was received. */
  readonly probes: number;
  readonly probeSendP50Ms: number;
  readonly probeSendMaxMs: number;
  readonly probeReceivedMs: number;
  /** Closing every consumer and the connection. */
  readonly closeMs: number;
}

/** Per extra consumer, derived from an {@link IdleMeasurement}. */
export interface IdlePerConsumer {
  readonly heapBytes: number;
  readonly rssBytes: number;
  /** RSS per consumer after the idle period (growth while idle shows here). */
  readonly rssAfterIdleBytes: number;
  readonly sockets: number;
  /** CPU per consumer per 30 s idle, above the idle connection's own. */
  readonly idleCpuMsPer30s: number;
  readonly createMs: number;
}

/**
 * Per extra consumer: (snapshot with K consumers - snapshot with none) / K for heap, RSS and
 * sockets; idle CPU as the rate above the idle connection's own rate, per 30 s; creation time / K.
 */
export function perConsumer(m: IdleMeasurement): IdlePerConsumer {
  const k = Math.max(1, m.consumers);
  const baseRate = m.baseIdleMs > 0 ? m.baseIdleCpuMs / m.baseIdleMs : 0;
  const rate = m.idleMs > 0 ? m.idleCpuMs / m.idleMs : 0;
  return {
    heapBytes: (m.created.heapUsed - m.base.heapUsed) / k,
    rssBytes: (m.created.rss - m.base.rss) / k,
    rssAfterIdleBytes: (m.idle.rss - m.base.rss) / k,
    sockets: (m.created.sockets - m.base.sockets) / k,
    idleCpuMsPer30s: (Math.max(0, rate - baseRate) * 30_000) / k,
    createMs: m.createMs / k,
  };
}

/** Counts this process's open file descriptors, and those of them that are sockets (Linux /proc). */
export function countFds(dir = '/proc/self/fd'): { fds: number; sockets: number } {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return { fds: NaN, sockets: NaN };
  }
  let sockets = 0;
  let fds = 0;
  for (const name of names) {
    try {
      const link = fs.readlinkSync(`${dir}/${name}`);
      fds++;
      if (link.startsWith('socket:')) sockets++;
    } catch {
      // closed while listing (e.g. the fd of the directory listing itself)
    }
  }
  return { fds, sockets };
}

function snapshot(): ProcessSnapshot {
  tryGc();
  const m = process.memoryUsage();
  const f = countFds();
  return { heapUsed: m.heapUsed, rss: m.rss, sockets: f.sockets, fds: f.fds };
}

/**
 * Many idle consumers on one connection, through one client. `createConsumers` creates a queue
 * and a consuming consumer for each name (calling `onCreated` after each, or once after all where
 * the client takes all at once); a delivery calls `onMessage` with the queue's name.
 */
export interface IdleTarget {
  connect(): Promise<void>;
  createConsumers(names: readonly string[], onCreated: (index: number) => void): Promise<void>;
  send(name: string, body: Buffer): Promise<void>;
  close(): Promise<void>;
  /** Deletes the queues (not timed); safe after a failed `connect`. */
  cleanup(names: readonly string[]): Promise<void>;
}

/** Makes an idle target for a URL; `onMessage` is called with the queue name of every delivery. */
export type IdleTargetFactory = (url: string, params: IdleParams, onMessage: (name: string) => void) => IdleTarget;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

/**
 * Measures K idle consumers on one connection: snapshot (after GC) with the connection alone and
 * its idle CPU over a third of the idle period; create K queues and consumers one after the other
 * (timed in two halves); snapshot; idle for `idleMs` (CPU measured); snapshot; then `probes`
 * confirmed sends to distinct queues, timed, until each was received; close (timed); delete the queues.
 */
export async function runIdle(factory: IdleTargetFactory, url: string, prefix: string, params: IdleParams): Promise<IdleMeasurement> {
  const k = params.consumers;
  const names = Array.from({ length: k }, (_, i) => `${prefix}-${i}`);
  const received = new Map<string, number>();
  let onProbe: (() => void) | undefined;
  const target = factory(url, params, (name) => {
    received.set(name, performance.now());
    onProbe?.();
  });
  try {
    await withTimeout(target.connect(), params.deadlineMs, 'connect');
    await sleep(200);
    const base = snapshot();
    const baseIdleMs = Math.max(1000, Math.round(params.idleMs / 3));
    const c0 = process.cpuUsage();
    const b0 = performance.now();
    await sleep(baseIdleMs);
    const bc = process.cpuUsage(c0);
    const baseIdleReal = performance.now() - b0;

    const half = Math.ceil(k / 2);
    let halfAt = NaN;
    const t0 = performance.now();
    await withTimeout(
      target.createConsumers(names, (i) => {
        if (i === half - 1) halfAt = performance.now();
      }),
      params.deadlineMs,
      `creating ${k} consumers`,
    );
    const createMs = performance.now() - t0;
    if (!Number.isFinite(halfAt)) halfAt = t0 + createMs / 2;
    const created = snapshot();

    const i0 = process.cpuUsage();
    const s0 = performance.now();
    await sleep(params.idleMs);
    const ic = process.cpuUsage(i0);
    const idleReal = performance.now() - s0;
    const idle = snapshot();

    const probeNames = names.slice(0, Math.min(params.probes, k));
    const sendTimes: number[] = [];
    const p0 = performance.now();
    const allIn = new Promise<void>((resolve) => {
      onProbe = () => {
        if (probeNames.every((n) => received.has(n))) resolve();
      };
      onProbe();
    });
    for (const name of probeNames) {
      const s = performance.now();
      await withTimeout(target.send(name, Buffer.from(`probe ${name}`)), params.deadlineMs, `a probe send to ${name}`);
      sendTimes.push(performance.now() - s);
    }
    if (probeNames.length) await withTimeout(allIn, params.deadlineMs, 'receiving the probes');
    const probeReceivedMs = probeNames.length ? Math.max(...probeNames.map((n) => received.get(n)!)) - p0 : NaN;
    const sorted = Float64Array.from(sendTimes).sort();

    const cl0 = performance.now();
    await withTimeout(target.close(), params.deadlineMs, 'close');
    const closeMs = performance.now() - cl0;
    return {
      consumers: k,
      base,
      created,
      idle,
      createMs,
      createFirstHalfMs: halfAt - t0,
      createSecondHalfMs: t0 + createMs - halfAt,
      baseIdleMs: baseIdleReal,
      baseIdleCpuMs: (bc.user + bc.system) / 1000,
      idleMs: idleReal,
      idleCpuMs: (ic.user + ic.system) / 1000,
      probes: probeNames.length,
      probeSendP50Ms: percentileSorted(sorted, 50) ?? NaN,
      probeSendMaxMs: sorted.length ? sorted[sorted.length - 1]! : NaN,
      probeReceivedMs,
      closeMs,
    };
  } finally {
    await withTimeout(target.close(), 30_000, 'close').catch(() => undefined);
    await withTimeout(target.cleanup(names), 120_000, 'cleanup').catch(() => undefined);
  }
}

/**
 * Switchboard: one connection; per name `ensureDestination(queue)`, `connection.consumer(queue, { prefetch })`
 * and `consume()` with a handler that acks, one after the other; probes are `producer.send(queue, body)` (confirmed).
 */
export function switchboardIdle(connect: ConnectFn = coreConnect): IdleTargetFactory {
  return (url, params, onMessage) => {
    let conn: Connection | undefined;
    let producer: Producer | undefined;
    const consumers: Consumer[] = [];
    const handles: ConsumeHandle[] = [];
    let closed: Promise<void> | undefined;
    return {
      async connect() {
        conn = await connect(url);
      },
      async createConsumers(names, onCreated) {
        for (let i = 0; i < names.length; i++) {
          const name = names[i]!;
          const dest = queue(name);
          await conn!.admin.ensureDestination(dest);
          const c = await conn!.consumer(dest, { prefetch: params.prefetch });
          consumers.push(c);
          handles.push(
            c.consume(async (d) => {
              await d.ack();
              onMessage(name);
            }),
          );
          onCreated(i);
        }
      },
      async send(name, body) {
        producer ??= conn!.producer();
        await producer.send(queue(name), body, { confirm: true });
      },
      close() {
        closed ??= (async () => {
          await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
          await Promise.all(consumers.map((c) => c.close().catch(() => undefined)));
          await conn?.close().catch(() => undefined);
        })();
        return closed;
      },
      async cleanup(names) {
        let c: Connection;
        try {
          c = await connect(url);
        } catch {
          return;
        }
        for (const name of names) await c.admin.deleteDestination(queue(name)).catch(() => undefined);
        await c.close().catch(() => undefined);
      },
    };
  };
}

/** amqplib: one connection; per name a durable queue and a channel of its own with `prefetch`, consuming with manual acks. */
export const rawRabbitMQIdle: IdleTargetFactory = (url, params, onMessage) => {
  const plainUrl = url.replace(/\?.*$/, '');
  let conn: amqp.ChannelModel | undefined;
  let admin: amqp.ConfirmChannel | undefined;
  const channels: amqp.Channel[] = [];
  let closed: Promise<void> | undefined;
  return {
    async connect() {
      conn = await amqp.connect(plainUrl);
      conn.on('error', () => undefined);
      admin = await conn.createConfirmChannel();
    },
    async createConsumers(names, onCreated) {
      for (let i = 0; i < names.length; i++) {
        const name = names[i]!;
        await admin!.assertQueue(name, { durable: true });
        const ch = await conn!.createChannel();
        channels.push(ch);
        await ch.prefetch(params.prefetch);
        await ch.consume(name, (msg) => {
          if (!msg) return;
          ch.ack(msg);
          onMessage(name);
        });
        onCreated(i);
      }
    },
    send(name, body) {
      return new Promise<void>((resolve, reject) => {
        admin!.sendToQueue(name, body, { persistent: true }, (err: unknown) => (err ? reject(err instanceof Error ? err : new Error('nacked')) : resolve()));
      });
    },
    close() {
      closed ??= (async () => {
        await Promise.all(channels.map((c) => c.close().catch(() => undefined)));
        await conn?.close().catch(() => undefined);
      })();
      return closed;
    },
    async cleanup(names) {
      let c: amqp.ChannelModel;
      try {
        c = await amqp.connect(plainUrl);
      } catch {
        return;
      }
      const ch = await c.createChannel();
      for (const name of names) await ch.deleteQueue(name).catch(() => undefined);
      await c.close().catch(() => undefined);
    },
  };
};

/**
 * nats.js JetStream: one connection; per name a file-backed work-queue stream and a durable pull
 * consumer read through `consumer.consume({ max_messages: prefetch })`, acked with `ackAck()`.
 */
export const rawNatsIdle: IdleTargetFactory = (url, params, onMessage) => {
  const parsed = parseUrl(url);
  const servers = parsed.hosts.map((h) => `${h.host}:${h.port ?? 4222}`);
  let nc: NatsConnection | undefined;
  let jsm: JetStreamManager | undefined;
  const iters: ConsumerMessages[] = [];
  let closed: Promise<void> | undefined;
  const stream = (name: string) => name.replace(/[^A-Za-z0-9_-]/g, '_');
  const open = () =>
    natsConnect({
      servers,
      name: 'switchboard-bench-raw-idle',
      ...(parsed.username !== undefined && parsed.password === undefined ? { token: parsed.username } : {}),
      ...(parsed.username !== undefined && parsed.password !== undefined ? { user: parsed.username, pass: parsed.password } : {}),
    });
  return {
    async connect() {
      nc = await open();
      jsm = await jetstreamManager(nc);
    },
    async createConsumers(names, onCreated) {
      const js = jetstream(nc!);
      for (let i = 0; i < names.length; i++) {
        const name = names[i]!;
        const s = stream(name);
        await jsm!.streams.add({ name: s, subjects: [`benchidle.${s}`], retention: RetentionPolicy.Workqueue, storage: StorageType.File });
        await jsm!.consumers.add(s, { durable_name: 'bench', ack_policy: AckPolicy.Explicit });
        const consumer = await js.consumers.get(s, 'bench');
        const it = await consumer.consume({ max_messages: params.prefetch });
        iters.push(it);
        void (async () => {
          for await (const m of it) {
            await m.ackAck().catch(() => false);
            onMessage(name);
          }
        })().catch(() => undefined);
        onCreated(i);
      }
    },
    async send(name, body) {
      await jetstream(nc!).publish(`benchidle.${stream(name)}`, body);
    },
    close() {
      closed ??= (async () => {
        await Promise.all(iters.map((it) => it.close().catch(() => undefined)));
        await nc?.close().catch(() => undefined);
      })();
      return closed;
    },
    async cleanup(names) {
      let c: NatsConnection;
      try {
        c = await open();
      } catch {
        return;
      }
      const m = await jetstreamManager(c);
      for (const name of names) await m.streams.delete(stream(name)).catch(() => undefined);
      await c.close().catch(() => undefined);
    },
  };
};

/**
 * kafkajs as a service listening to many topics would use it: one topic (3 partitions) per name,
 * and one consumer group subscribed to all of them (kafkajs takes its subscriptions before `run`,
 * so creation is one step for all K, reported after the group joined); probes go through one
 * idempotent producer (acks=all).
 */
export const rawKafkaIdle: IdleTargetFactory = (url, _params, onMessage) => {
  const parsed = parseUrl(url);
  const brokers = parsed.hosts.map((h) => `${h.host}:${h.port ?? 9092}`);
  const kafka = new Kafka({ clientId: 'switchboard-bench-raw-idle', brokers, logLevel: logLevel.NOTHING });
  let admin: Admin | undefined;
  let producer: KafkaProducer | undefined;
  let consumer: KafkaConsumer | undefined;
  let closed: Promise<void> | undefined;
  return {
    async connect() {
      admin = kafka.admin();
      await admin.connect();
      producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
    },
    async createConsumers(names, onCreated) {
      await admin!.createTopics({ topics: names.map((topic) => ({ topic, numPartitions: 3 })), waitForLeaders: true });
      // Many new topics at once: wait until the metadata has every one with leaders, or the
      // subscription fails with UNKNOWN_TOPIC_OR_PARTITION.
      for (let i = 0; ; i++) {
        try {
          const md = await admin!.fetchTopicMetadata({ topics: [...names] });
          if (md.topics.length === names.length && md.topics.every((t) => t.partitions.length === 3 && t.partitions.every((p) => p.leader >= 0))) break;
        } catch (err) {
          if (i >= 60) throw err;
        }
        if (i >= 60) throw new Error(`the metadata of ${names.length} new topics did not show leaders within 30 s`);
        await sleep(500);
      }
      consumer = kafka.consumer({ groupId: `${names[0]}.group`, maxWaitTimeInMs: 100, sessionTimeout: 10_000, heartbeatInterval: 500 });
      await consumer.connect();
      await consumer.subscribe({ topics: [...names], fromBeginning: true });
      const joined = new Promise<void>((resolve) => consumer!.on(consumer!.events.GROUP_JOIN, () => resolve()));
      await consumer.run({
        eachMessage: async ({ topic }) => {
          onMessage(topic);
        },
      });
      await joined;
      onCreated(names.length - 1);
    },
    async send(name, body) {
      await producer!.send({ topic: name, acks: -1, messages: [{ value: body }] });
    },
    close() {
      closed ??= (async () => {
        await consumer?.disconnect().catch(() => undefined);
        await producer?.disconnect().catch(() => undefined);
      })();
      return closed;
    },
    async cleanup(names) {
      if (admin) await admin.deleteTopics({ topics: [...names] }).catch(() => undefined);
      await admin?.disconnect().catch(() => undefined);
    },
  };
};

/**
 * AWS SDK v3: one client; per name a standard queue and one long-poll receive loop
 * (`WaitTimeSeconds` 20, 10 per call) that deletes what it got; probes are `SendMessage`. Each loop
 * holds a socket while it waits, so the client's keep-alive agent gets K + 16 sockets (the SDK's
 * default of 50 would starve queue creation and sends past 50 loops).
 */
export const rawSqsIdle: IdleTargetFactory = (url, params, onMessage) => {
  const maxSockets = params.consumers + 16;
  const client = new SQSClient({
    ...sqsClientConfig(url),
    requestHandler: { httpAgent: new http.Agent({ keepAlive: true, maxSockets }), httpsAgent: new https.Agent({ keepAlive: true, maxSockets }) },
  });
  const urls = new Map<string, string>();
  const abort = new AbortController();
  const loops: Promise<void>[] = [];
  let closed: Promise<void> | undefined;
  const loop = async (name: string, qUrl: string) => {
    while (!abort.signal.aborted) {
      const r = await client.send(new ReceiveMessageCommand({ QueueUrl: qUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 20 }), { abortSignal: abort.signal });
      const got = r.Messages ?? [];
      if (!got.length) continue;
      await client.send(new DeleteMessageBatchCommand({ QueueUrl: qUrl, Entries: got.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
      for (let i = 0; i < got.length; i++) onMessage(name);
    }
  };
  return {
    async connect() {
      // The SDK connects lazily; nothing to open.
    },
    async createConsumers(names, onCreated) {
      for (let i = 0; i < names.length; i++) {
        const name = names[i]!;
        const qUrl = (await client.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;
        urls.set(name, qUrl);
        const l = loop(name, qUrl);
        l.catch(() => undefined);
        loops.push(l);
        onCreated(i);
      }
    },
    async send(name, body) {
      await client.send(new SendMessageCommand({ QueueUrl: urls.get(name)!, MessageBody: body.toString('utf8') }));
    },
    close() {
      closed ??= (async () => {
        abort.abort();
        await Promise.allSettled(loops);
      })();
      return closed;
    },
    async cleanup() {
      for (const qUrl of urls.values()) await client.send(new DeleteQueueCommand({ QueueUrl: qUrl })).catch(() => undefined);
      client.destroy();
    },
  };
};

/** The raw idle target of a backend name (kafka, rabbitmq, nats-jetstream, sqs), or undefined. */
export function rawIdleFor(backend: string): IdleTargetFactory | undefined {
  switch (backend) {
    case 'kafka':
      return rawKafkaIdle;
    case 'rabbitmq':
      return rawRabbitMQIdle;
    case 'nats-jetstream':
      return rawNatsIdle;
    case 'sqs':
      return rawSqsIdle;
    default:
      return undefined;
  }
}
