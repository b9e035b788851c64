import { randomUUID } from 'node:crypto';
import type * as amqp from 'amqplib';
import {
  assertMessageSizes,
  closedError,
  createConsumer,
  createReply,
  DEFAULT_REQUEST_TIMEOUT_MS,
  formatDestination,
  normalizeMessages,
  PendingReplies,
  requireCapability,
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
import { rabbitCapabilities, rabbitCapabilitiesWithoutStreams } from './capabilities';
import { ChannelSlot, Publisher } from './channels';
import { classifyError } from './classify-error';
import { decodeMessage, publishOptions } from './codec';
import { RabbitConsumer, type ConsumerHost } from './consumer';
import { Link } from './link';
import { assertRabbitName, streamQueueName } from './names';
import type { RabbitMQEndpoint, ResolvedRabbitMQOptions } from './options';
import { StreamConsumer } from './stream-consumer';
import { Topology, type Target } from './topology';

const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

/**
 * A Switchboard connection to RabbitMQ: one AMQP connection (reconnected by the adapter), one
 * confirm channel for publishing, one channel for topology, one for direct reply-to, and one
 * channel per consumer.
 */
export class RabbitConnection implements Connection, ConsumerHost {
  readonly backend = 'rabbitmq';
  readonly url: string;
  readonly capabilities: Capabilities;
  readonly admin: Admin;
  readonly link: Link;
  private readonly topology: Topology;
  private readonly publisher: Publisher;
  private readonly replies = new PendingReplies();
  private readonly replySlot: ChannelSlot<amqp.Channel>;
  private readonly consumers = new Set<Consumer>();
  private readonly rawConsumers = new Map<RabbitConsumer | StreamConsumer, Consumer>();
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(endpoints: readonly RabbitMQEndpoint[], readonly options: ResolvedRabbitMQOptions, redacted: string) {
    this.url = redacted;
    this.link = new Link(endpoints, options, redacted);
    this.capabilities = options.streams ? rabbitCapabilities : rabbitCapabilitiesWithoutStreams;
    this.topology = new Topology(this.link);
    this.publisher = new Publisher(this.link);
    // Replies come back only to the channel that sent the request: when it dies, pending requests fail now.
    const repliesLost = () => this.replies.rejectAll(new SwitchboardError('connection', 'the RabbitMQ channel of this request was lost before the reply arrived'));
    this.replySlot = new ChannelSlot(
      this.link,
      (m) => m.createChannel(),
      async (ch) => {
        await ch.consume(DIRECT_REPLY_TO, (msg) => this.onReply(msg), { noAck: true });
      },
      repliesLost,
    );
    this.link.add({ lost: repliesLost, recover: async () => undefined });
    const self = this;
    this.admin = {
      async ensureDestination(d: DestinationLike, o?: DestinationOptions) {
        self.assertOpen();
        const dest = self.checkDestination(d);
        if (dest.kind === 'topic' && o?.retentionMs !== undefined && self.options.streams) await self.topology.stream(dest.name, o.retentionMs);
        await self.targetOf(dest);
      },
      async deleteDestination(d: DestinationLike) {
        self.assertOpen();
        const dest = self.checkDestination(d);
        if (dest.kind === 'queue') {
          await self.topology.run((ch) => ch.deleteQueue(dest.name));
          self.topology.forget(`q:${dest.name}`);
        } else {
          await self.topology.run((ch) => ch.deleteExchange(dest.name));
          await self.topology.run((ch) => ch.deleteQueue(streamQueueName(dest.name)));
          self.topology.forget(`x:${dest.name}`);
          self.topology.forget(`s:${streamQueueName(dest.name)}`);
        }
      },
    };
  }

  async start(): Promise<void> {
    await this.link.start();
  }

  private assertOpen(): void {
    if (this.closed) throw closedError('RabbitMQ connection');
  }

  private checkDestination(d: DestinationLike): Destination {
    const dest = toDestination(d);
    assertRabbitName(dest);
    return dest;
  }

  // ---- ConsumerHost -------------------------------------------------------------------------

  async targetOf(d: Destination): Promise<Target> {
    if (d.kind === 'queue') {
      await this.topology.queue(d.name);
      return { exchange: '', routingKey: d.name };
    }
    if (this.options.streams) await this.topology.stream(d.name, this.options.streamRetentionMs);
    else await this.topology.topic(d.name);
    return { exchange: d.name, routingKey: '' };
  }

  delayQueue(target: Target, delayMs: number): Promise<string> {
    return this.topology.delay(target, delayMs);
  }

  publish(target: Target, content: Buffer, options: amqp.Options.Publish): Promise<string | undefined> {
    return this.publisher.publish(target.exchange, target.routingKey, content, options, true);
  }

  async respond(replyTo: string, correlationId: string | undefined, m: NormalizedMessage): Promise<void> {
    this.assertOpen();
    assertMessageSizes([m], this.options.maxMessageBytes, 'RabbitMQ');
    const o = publishOptions(m, correlationId === undefined ? {} : { correlationId });
    await this.publisher.publish('', replyTo, Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength), o, true);
  }

  forgetConsumer(c: RabbitConsumer | StreamConsumer): void {
    const pub = this.rawConsumers.get(c);
    this.rawConsumers.delete(c);
    if (pub) this.consumers.delete(pub);
  }

  // ---- Producer --------------------------------------------------------------------------------

  private async send(d: DestinationLike, message: OutgoingMessage | Body | readonly (OutgoingMessage | Body)[], options: SendOptions = {}): Promise<SendReceipt[]> {
    this.assertOpen();
    const dest = this.checkDestination(d);
    validateSendOptions(options);
    const msgs = normalizeMessages(message as OutgoingMessage, options);
    assertMessageSizes(msgs, this.options.maxMessageBytes, 'RabbitMQ (max_message_size)');
    if (options.delayMs !== undefined && options.delayMs > 0) requireCapability(this.capabilities, 'delayedSend');
    throwIfAborted(options.signal);
    const target = await this.targetOf(dest);
    const confirm = options.confirm ?? true;
    const name = formatDestination(dest);
    const jobs = msgs.map(async (m) => {
      let to = target;
      if (m.delayMs !== undefined && m.delayMs > 0) to = { exchange: '', routingKey: await this.topology.delay(target, m.delayMs) };
      const ref = await this.publisher.publish(to.exchange, to.routingKey, Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength), publishOptions(m), confirm, options.signal);
      const r: SendReceipt = ref === undefined ? { id: m.id, destination: name, confirmed: false } : { id: m.id, destination: name, confirmed: true, brokerRef: ref };
      return r;
    });
    const results = await Promise.allSettled(jobs);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      const e = classifyError(failed.reason);
      if (msgs.length === 1) throw e;
      const receipts = results.filter((r): r is PromiseFulfilledResult<SendReceipt> => r.status === 'fulfilled').map((r) => r.value);
      throw new SwitchboardError(e.code, e.message, { cause: e.cause ?? e, retryable: e.retryable, details: { ...e.details, receipts } });
    }
    return results.map((r) => (r as PromiseFulfilledResult<SendReceipt>).value);
  }

  private async request(d: DestinationLike, message: OutgoingMessage | Body, options: RequestOptions = {}): Promise<Reply> {
    this.assertOpen();
    const dest = this.checkDestination(d);
    requireCapability(this.capabilities, 'requestResponse');
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new SwitchboardError('invalid_argument', 'request timeoutMs must be a positive number');
    const sendOpts: SendOptions = {};
    if (options.headers) sendOpts.headers = options.headers;
    if (options.key !== undefined) sendOpts.key = options.key;
    if (options.id !== undefined) sendOpts.id = options.id;
    const [m] = normalizeMessages(message, sendOpts);
    assertMessageSizes([m!], this.options.maxMessageBytes, 'RabbitMQ (max_message_size)');
    throwIfAborted(options.signal);
    const started = Date.now();
    const target = await this.targetOf(dest);
    const ch = await this.replySlot.get(timeoutMs, options.signal);
    const correlationId = randomUUID();
    const left = Math.max(1, timeoutMs - (Date.now() - started));
    const wait = this.replies.wait(correlationId, left, options.signal, formatDestination(dest));
    try {
      const o = publishOptions(m!, { replyTo: DIRECT_REPLY_TO, correlationId, expiration: Math.ceil(left) });
      ch.publish(target.exchange, target.routingKey, Buffer.from(m!.body.buffer, m!.body.byteOffset, m!.body.byteLength), o);
    } catch (err) {
      this.replies.reject(correlationId, classifyError(err));
    }
    return wait;
  }

  private onReply(msg: amqp.ConsumeMessage | null): void {
    if (!msg) return;
    const dec = decodeMessage(msg, '');
    const corr = dec.correlationId;
    if (!corr) return;
    this.replies.resolve(corr, createReply(dec.body, dec.headers, corr));
  }

  producer(): Producer {
    this.assertOpen();
    let closed = false;
    const inFlight = new Set<Promise<unknown>>();
    const track = <T>(p: Promise<T>): Promise<T> => {
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p)).catch(() => undefined);
      return p;
    };
    const check = () => {
      if (closed) throw closedError('RabbitMQ producer');
    };
    const self = this;
    const producer = {
      async send(d: DestinationLike, message: OutgoingMessage | Body | readonly (OutgoingMessage | Body)[], options?: SendOptions) {
        check();
        const receipts = await track(self.send(d, message, options));
        return Array.isArray(message) ? receipts : receipts[0]!;
      },
      async request(d: DestinationLike, message: OutgoingMessage | Body, options?: RequestOptions) {
        check();
        return track(self.request(d, message, options));
      },
      async close() {
        closed = true;
        await Promise.allSettled([...inFlight]);
      },
      [Symbol.asyncDispose]() {
        return producer.close();
      },
    };
    return producer as unknown as Producer;
  }

  // ---- Consumer --------------------------------------------------------------------------------

  async consumer(s: DestinationLike, options?: ConsumerOptions): Promise<Consumer> {
    this.assertOpen();
    const source = this.checkDestination(s);
    const o = resolveConsumerOptions(source, options);
    assertRabbitName(o.deadLetter);
    if (o.filter && Object.keys(o.filter).length > 0) {
      requireCapability(this.capabilities, 'headerFilter');
      if (source.kind === 'queue') throw new SwitchboardError('invalid_argument', 'a header filter applies to topic subscriptions; a queue delivers everything it holds');
      for (const k of Object.keys(o.filter)) {
        if (k.startsWith('x-')) throw new SwitchboardError('invalid_argument', `filter header "${k}": RabbitMQ's headers exchange ignores headers starting with "x-"`);
      }
    }
    const from = options?.from;
    const wantsReplay = source.kind === 'topic' && from !== undefined && from !== 'latest';
    let raw: RabbitConsumer | StreamConsumer;
    if (wantsReplay) {
      requireCapability(this.capabilities, typeof from === 'string' ? 'replay' : 'replayFromPosition');
      const stream = await this.topology.stream(source.name, this.options.streamRetentionMs);
      const sc = new StreamConsumer(this, source, stream, o, this.topology);
      await sc.init(from);
      raw = sc;
    } else {
      const queue = source.kind === 'queue' ? (await this.targetOf(source), source.name) : await this.topology.group(source.name, o.group, o.filter);
      const rc = new RabbitConsumer(this, source, queue, o);
      await rc.init();
      raw = rc;
    }
    const c = createConsumer(raw.parts());
    o.signal?.addEventListener('abort', () => void c.close(), { once: true });
    this.consumers.add(c);
    this.rawConsumers.set(raw, c);
    if (this.closed) {
      await c.close();
      throw closedError('RabbitMQ connection');
    }
    return c;
  }

  // ---- Lifecycle -------------------------------------------------------------------------------

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      await Promise.allSettled([...this.consumers].map((c) => c.close()));
      await Promise.race([this.publisher.settled(), new Promise((r) => setTimeout(r, this.options.sendTimeoutMs).unref())]);
      this.replies.rejectAll(closedError('RabbitMQ connection'));
      await this.link.close();
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
