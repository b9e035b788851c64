import { randomUUID } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import {
  assertMessageSizes,
  closedError,
  createReply,
  DEFAULT_REQUEST_TIMEOUT_MS,
  HEADERS,
  normalizeMessages,
  resolveConsumerOptions,
  SwitchboardError,
  throwIfAborted,
  toDestination,
  validateSendOptions,
  type Admin,
  type Body,
  type Capabilities,
  type Connection,
  type Consumer,
  type ConsumerOptions,
  type Destination,
  type DestinationLike,
  type DestinationOptions,
  type NormalizedMessage,
  type OutgoingMessage,
  type Producer,
  type Reply,
  type RequestOptions,
  type SendOptions,
  type SendReceipt,
} from '@switchboard/core';
import {
  Kafka,
  logLevel as kafkaLogLevel,
  Partitioners,
  type Admin as KafkaAdmin,
  type IHeaders,
  type ISocketFactory,
  type Producer as KafkaProducer,
  type SASLOptions,
} from 'kafkajs';
import { kafkaCapabilitiesFor } from './capabilities';
import { classifyError } from './classify-error';
import { createKafkaConsumer } from './consumer';
import { assertTopicName, replyTopic } from './naming';
import type { ResolvedKafkaOptions } from './options';
import { ReplyListener } from './replies';
import { SendQueue } from './send-queue';
import { Topics } from './topics';

const LOG_LEVELS = {
  nothing: kafkaLogLevel.NOTHING,
  error: kafkaLogLevel.ERROR,
  warn: kafkaLogLevel.WARN,
  info: kafkaLogLevel.INFO,
  debug: kafkaLogLevel.DEBUG,
} as const;

/** Bytes reserved for record framing and the headers the adapter adds. */
const FRAMING_RESERVE = 512;

/** A message on its way to Kafka: partition chosen, headers encoded. */
export interface PreparedRecord {
  partition: number;
  size: number;
  message: { key: string | null; value: Buffer; headers: IHeaders; partition: number };
}

/**
 * A connection to a Kafka cluster: one kafkajs client, one admin client and one idempotent
 * producer shared by every producer handle, plus one kafkajs consumer per Switchboard consumer.
 */
export class KafkaConnection implements Connection {
  readonly backend = 'kafka';
  readonly capabilities: Capabilities;
  readonly admin: Admin;
  readonly id = randomUUID().replace(/-/g, '').slice(0, 16);
  readonly topics: Topics;
  readonly sendQueue: SendQueue;
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private readonly consumers = new Set<Consumer>();
  private readonly producers = new Set<KafkaProducerHandle>();
  private replies: ReplyListener | undefined;
  private internalProducer: KafkaProducerHandle | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly url: string,
    readonly options: ResolvedKafkaOptions,
    readonly kafka: Kafka,
    readonly kadmin: KafkaAdmin,
    readonly kproducer: KafkaProducer,
  ) {
    this.capabilities = kafkaCapabilitiesFor(options.partitions, options.connectVia);
    this.topics = new Topics(kadmin, { partitions: options.partitions, replicationFactor: options.replicationFactor, timeoutMs: options.requestTimeoutMs });
    this.sendQueue = new SendQueue(kproducer, Math.min(512 * 1024, options.maxMessageBytes));
    this.admin = {
      ensureDestination: async (d: DestinationLike, o?: DestinationOptions) => {
        this.assertOpen();
        const dest = checkedDestination(d);
        await this.topics.ensure([dest.name], { ...(o?.partitions ? { partitions: o.partitions } : {}), ...(o?.retentionMs ? { retentionMs: o.retentionMs } : {}) });
      },
      deleteDestination: async (d: DestinationLike) => {
        this.assertOpen();
        const dest = checkedDestination(d);
        try {
          await this.kadmin.deleteTopics({ topics: [dest.name], timeout: this.options.requestTimeoutMs });
        } catch (err) {
          const c = classifyError(err);
          if (c.code !== 'not_found') throw c;
        } finally {
          this.topics.forget(dest.name);
        }
      },
    };
  }

  /** Connects the admin client and the producer within `connectTimeoutMs`. */
  static async open(url: string, options: ResolvedKafkaOptions): Promise<KafkaConnection> {
    const kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      ...(options.ssl !== undefined ? { ssl: options.ssl } : {}),
      ...(options.sasl ? { sasl: options.sasl as SASLOptions } : {}),
      connectionTimeout: Math.min(options.connectTimeoutMs, 3000),
      authenticationTimeout: Math.min(options.connectTimeoutMs, 5000),
      requestTimeout: options.requestTimeoutMs,
      retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: 8 },
      logLevel: LOG_LEVELS[options.logLevel],
      ...(options.connectVia === 'bootstrap' ? { socketFactory: bootstrapSocketFactory(options.brokers[0]!) } : {}),
    });
    const kadmin = kafka.admin({ retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 5 } });
    const kproducer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: true,
      retry: { initialRetryTime: 200, maxRetryTime: 3000, retries: 10 },
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new SwitchboardError('connection', `kafka: no broker of ${url} answered within ${options.connectTimeoutMs} ms`)),
        options.connectTimeoutMs,
      );
    });
    try {
      await Promise.race([Promise.all([kadmin.connect(), kproducer.connect()]), deadline]);
    } catch (err) {
      await Promise.allSettled([kadmin.disconnect(), kproducer.disconnect()]);
      const c = classifyError(err);
      if (c.code === 'auth' || c.code === 'connection') throw c;
      throw new SwitchboardError('connection', `kafka: cannot connect to ${url}: ${c.message}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    return new KafkaConnection(url, options, kafka, kadmin, kproducer);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  assertOpen(): void {
    if (this.closed) throw closedError(`kafka connection ${this.url}`);
  }

  producer(): Producer {
    this.assertOpen();
    const p = new KafkaProducerHandle(this);
    this.producers.add(p);
    return p;
  }

  async consumer(source: DestinationLike, options?: ConsumerOptions): Promise<Consumer> {
    this.assertOpen();
    const dest = checkedDestination(source);
    const resolved = resolveConsumerOptions(dest, options);
    assertTopicName(resolved.deadLetter);
    let c: Consumer | undefined;
    c = await createKafkaConsumer(this, dest, resolved, () => {
      if (c) this.consumers.delete(c);
    });
    if (this.closed) {
      await c.close();
      throw closedError(`kafka connection ${this.url}`);
    }
    this.consumers.add(c);
    return c;
  }

  /** The producer handle consumers use for replies, retries and dead letters. */
  get internal(): KafkaProducerHandle {
    this.internalProducer ??= new KafkaProducerHandle(this);
    return this.internalProducer;
  }

  /** Picks the partition of a message the way the Java client does (murmur2 of the key, else round-robin). */
  partitionFor(topic: string, partitions: number, key: string | undefined): number {
    const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionErrorCode: 0, partitionId: i, leader: 0, replicas: [0], isr: [0] }));
    return this.partitioner({ topic, partitionMetadata, message: { key: key ?? null, value: null } });
  }

  /** Encodes normalized messages for a topic (ensuring it exists) without sending them. */
  async prepare(topic: string, messages: readonly NormalizedMessage[], extraHeaders: (m: NormalizedMessage) => Record<string, string> = () => ({})): Promise<PreparedRecord[]> {
    const [partitions] = await this.topics.ensure([topic]);
    return messages.map((m) => this.encode(topic, partitions!, m, extraHeaders(m)));
  }

  encode(topic: string, partitions: number, m: NormalizedMessage, extra: Record<string, string>): PreparedRecord {
    const headers: Record<string, string> = { ...m.headers, [HEADERS.messageId]: m.id, ...extra };
    const partition = this.partitionFor(topic, partitions, m.key);
    const value = Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength);
    let size = value.byteLength + (m.key ? Buffer.byteLength(m.key) : 0);
    for (const [k, v] of Object.entries(headers)) size += Buffer.byteLength(k) + Buffer.byteLength(v) + 2;
    return { partition, size, message: { key: m.key ?? null, value, headers, partition } };
  }

  /** The size check every send runs before anything reaches the network. */
  assertSizes(messages: readonly NormalizedMessage[], topic: string): void {
    assertMessageSizes(messages, this.options.maxMessageBytes - FRAMING_RESERVE, `Kafka topic ${topic} (max.message.bytes ${this.options.maxMessageBytes}, ${FRAMING_RESERVE} bytes kept for framing and Switchboard headers)`);
  }

  /** Sends prepared records of one topic; resolves with their `<partition>:<offset>` refs. */
  sendPrepared(topic: string, records: readonly PreparedRecord[]): Promise<string[]> {
    return Promise.all(this.sendQueue.push(topic, records));
  }

  /** The reply listener of this connection, started on first use. */
  async replyListener(): Promise<ReplyListener> {
    this.assertOpen();
    if (!this.replies) this.replies = new ReplyListener(this, replyTopic(this.id));
    await this.replies.ready();
    return this.replies;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      await Promise.allSettled([...this.consumers].map((c) => c.close()));
      await Promise.allSettled([...this.producers].map((p) => p.close()));
      await this.internalProducer?.close();
      if (this.replies) await this.replies.close().catch(() => undefined);
      await this.sendQueue.flush().catch(() => undefined);
      await Promise.allSettled([this.kproducer.disconnect(), this.kadmin.disconnect()]);
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
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

function checkedDestination(d: DestinationLike): Destination {
  const dest = toDestination(d);
  assertTopicName(dest);
  return dest;
}

/**
 * A producer handle. Sends are coalesced per event-loop turn into one produce request; a confirmed
 * send resolves once Kafka acknowledged it with acks=all, with `brokerRef` `<partition>:<offset>`.
 */
export class KafkaProducerHandle implements Producer {
  private closed = false;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly conn: KafkaConnection) {}

  private assertOpen(): void {
    if (this.closed || this.conn.isClosed) throw closedError('kafka producer');
  }

  send(destination: DestinationLike, message: OutgoingMessage | Body, options?: SendOptions): Promise<SendReceipt>;
  send(destination: DestinationLike, messages: readonly (OutgoingMessage | Body)[], options?: SendOptions): Promise<SendReceipt[]>;
  async send(
    destination: DestinationLike,
    input: OutgoingMessage | Body | readonly (OutgoingMessage | Body)[],
    options: SendOptions = {},
  ): Promise<SendReceipt | SendReceipt[]> {
    this.assertOpen();
    validateSendOptions(options);
    const dest = checkedDestination(destination);
    const messages = normalizeMessages(input as OutgoingMessage | Body | (OutgoingMessage | Body)[], options);
    this.conn.assertSizes(messages, dest.name);
    throwIfAborted(options.signal);
    const p = this.sendNormalized(dest, messages, options.confirm !== false, options.delayMs);
    this.inFlight.add(p);
    try {
      const receipts = await p;
      return Array.isArray(input) ? receipts : receipts[0]!;
    } finally {
      this.inFlight.delete(p);
    }
  }

  private async sendNormalized(dest: Destination, messages: NormalizedMessage[], confirm: boolean, delayMs: number | undefined, extra: Record<string, string> = {}): Promise<SendReceipt[]> {
    const notBefore = delayMs && delayMs > 0 ? String(Date.now() + delayMs) : undefined;
    const records = await this.conn.prepare(dest.name, messages, () => ({ ...extra, ...(notBefore ? { [HEADERS.notBefore]: notBefore } : {}) }));
    const refs = this.conn.sendQueue.push(dest.name, records);
    if (!confirm) {
      for (const r of refs) r.catch(() => undefined);
      return messages.map((m) => ({ id: m.id, destination: dest.name, confirmed: false }));
    }
    const settled = await Promise.allSettled(refs);
    const receipts: SendReceipt[] = [];
    let failure: unknown;
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') receipts.push({ id: messages[i]!.id, destination: dest.name, confirmed: true, brokerRef: s.value });
      else failure ??= s.reason;
    });
    if (failure !== undefined) {
      const c = classifyError(failure);
      throw new SwitchboardError(c.code, c.message, { cause: c.cause, retryable: c.retryable, details: { ...c.details, receipts } });
    }
    return receipts;
  }

  async request(destination: DestinationLike, message: OutgoingMessage | Body, options: RequestOptions = {}): Promise<Reply> {
    this.assertOpen();
    const dest = checkedDestination(destination);
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new SwitchboardError('invalid_argument', 'request timeoutMs must be a positive number');
    const [m] = normalizeMessages(message, {
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.key !== undefined ? { key: options.key } : {}),
      ...(options.id !== undefined ? { id: options.id } : {}),
    });
    this.conn.assertSizes([m!], dest.name);
    throwIfAborted(options.signal);
    const correlationId = randomUUID();
    const started = Date.now();
    const listener = await this.conn.replyListener();
    const wait = listener.pending.wait(correlationId, Math.max(1, timeoutMs - (Date.now() - started)), options.signal, `${dest.kind} ${dest.name}`);
    wait.catch(() => undefined);
    try {
      await this.sendNormalized(dest, [m!], true, undefined, { [HEADERS.replyTo]: listener.topic, [HEADERS.correlationId]: correlationId });
    } catch (err) {
      listener.pending.reject(correlationId, classifyError(err));
    }
    return wait;
  }

  /** Sends a reply to a reply topic (used by deliveries' `respond`). */
  async reply(replyTo: string, correlationId: string | undefined, m: NormalizedMessage): Promise<void> {
    const dest: Destination = { kind: 'topic', name: replyTo };
    assertTopicName(dest);
    this.conn.assertSizes([m], replyTo);
    await this.sendNormalized(dest, [m], true, undefined, correlationId ? { [HEADERS.correlationId]: correlationId } : {});
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

export { createReply };
