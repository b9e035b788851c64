import { randomUUID } from 'node:crypto';
import { DeleteQueueCommand, ListQueuesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { DeleteTopicCommand, ListSubscriptionsByTopicCommand, UnsubscribeCommand } from '@aws-sdk/client-sns';
import {
  closedError,
  createReply,
  DEFAULT_REQUEST_TIMEOUT_MS,
  normalizeMessages,
  parseUrl,
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
  type ConnectOptions,
  type Connection,
  type Consumer,
  type ConsumerOptions,
  type Destination,
  type DestinationLike,
  type DestinationOptions,
  type Driver,
  type NormalizedMessage,
  type OutgoingMessage,
  type ParsedUrl,
  type Producer,
  type Reply,
  type RequestOptions,
  type SendOptions,
  type SendReceipt,
} from '@switchboard/core';
import { sqsCapabilities } from './capabilities';
import { assertEncodedSize, decodeMessage, encodeMessage, isAttributeName, type EncodeExtras } from './codec';
import { createSqsConsumer, type ConsumerHost } from './consumer';
import { MAX_DELAY_SECONDS, SqsContext, type OutgoingEntry } from './context';
import { classifyError } from './errors';
import { assertValidDestination, groupQueueName, physicalName, type PhysicalName } from './names';
import { resolveSqsOptions, type SqsOptions } from './options';

/** An SQS + SNS connection. */
export interface SqsConnection extends Connection {
  readonly backend: 'sqs';
}

class SqsConnectionImpl implements SqsConnection {
  readonly backend = 'sqs' as const;
  readonly url: string;
  readonly capabilities: Capabilities;
  readonly admin: Admin;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly consumers = new Set<Consumer>();
  private readonly producers = new Set<SqsProducer>();
  private readonly replies = new ReplyListener(this);
  private readonly consumerHost: ConsumerHost;

  constructor(readonly ctx: SqsContext) {
    this.url = ctx.options.redactedUrl;
    this.capabilities = sqsCapabilities(ctx.options.customEndpoint, ctx.options.fifo);
    this.admin = {
      ensureDestination: (d, o) => this.ensureDestination(d, o),
      deleteDestination: (d) => this.deleteDestination(d),
    };
    this.consumerHost = {
      ctx,
      capabilities: this.capabilities,
      sendTo: async (dest, m, extras) => {
        const [receipt] = await this.sendMessages(dest, [m], true, extras, undefined, true);
        return receipt!.brokerRef ?? '';
      },
      reply: (replyTo, correlationId, m) => this.replies.sendReply(replyTo, correlationId, m),
      forget: (c) => this.consumers.delete(c),
    };
  }

  get prefix(): string {
    return this.ctx.options.prefix;
  }

  assertOpen(): void {
    if (this.closed) throw closedError(`SQS connection ${this.url}`);
  }

  /** Validates a destination (no network) and returns it with its physical name. */
  resolve(d: DestinationLike): { dest: Destination; phys: PhysicalName } {
    const dest = toDestination(d);
    return { dest, phys: assertValidDestination(dest, this.prefix, this.ctx.options.fifo) };
  }

  producer(): Producer {
    this.assertOpen();
    const p = new SqsProducer(this);
    this.producers.add(p);
    return p;
  }

  forgetProducer(p: SqsProducer): void {
    this.producers.delete(p);
  }

  async consumer(source: DestinationLike, options?: ConsumerOptions): Promise<Consumer> {
    this.assertOpen();
    const { dest, phys } = this.resolve(source);
    const o = resolveConsumerOptions(dest, options);
    assertValidDestination(o.deadLetter, this.prefix, this.ctx.options.fifo);
    if (typeof o.from === 'object') requireCapability(this.capabilities, 'replayFromPosition');
    if (o.filter && Object.keys(o.filter).length) {
      requireCapability(this.capabilities, 'headerFilter');
      if (dest.kind !== 'topic') throw new SwitchboardError('invalid_argument', 'a header filter needs a topic source: it is an SNS filter policy on the group subscription');
      for (const k of Object.keys(o.filter)) {
        if (!isAttributeName(k) || k.startsWith('sb-')) throw new SwitchboardError('invalid_argument', `cannot filter on header "${k}": only headers that travel as SNS message attributes can be filtered`);
      }
    }
    const queue = dest.kind === 'queue' ? phys : groupQueueName(phys, o.group);
    const provision = async (): Promise<string> => {
      const url = await this.ctx.queueUrl(queue);
      if (dest.kind === 'topic') {
        const topicArn = await this.ctx.topicArn(phys);
        try {
          await this.ctx.subscribeQueue(topicArn, queue, url, o.filter);
        } catch (err) {
          if (classifyError(err).code !== 'not_found') throw err;
          this.ctx.forgetTopic(phys.name);
          await this.ctx.subscribeQueue(await this.ctx.topicArn(phys), queue, url, o.filter);
        }
      }
      return url;
    };
    const consumer = await createSqsConsumer(this.consumerHost, { source: dest, queue, options: o, provision });
    if (this.closed) {
      await consumer.close();
      this.assertOpen();
    }
    this.consumers.add(consumer);
    if (o.signal) o.signal.addEventListener('abort', () => void consumer.close(), { once: true });
    return consumer;
  }

  /**
   * Validates, encodes and size-checks every message before anything is sent, then hands them
   * to the batchers. With `confirm`, resolves once each is accepted (per-message errors reject).
   */
  async sendMessages(
    d: DestinationLike,
    messages: NormalizedMessage[],
    confirm: boolean,
    extras: EncodeExtras = {},
    track?: (p: Promise<unknown>) => void,
    internal = false,
  ): Promise<SendReceipt[]> {
    if (!internal) this.assertOpen();
    const { dest, phys } = this.resolve(d);
    const limit = this.ctx.options.maxPayloadBytes;
    const what = dest.kind === 'queue' ? 'SQS' : 'SNS';
    messages.forEach((m, i) => {
      // Cheap check first: the encoded form is never smaller than the raw bytes.
      if (m.body.byteLength > limit) assertEncodedSize({ body: '', attributes: {}, size: m.body.byteLength }, limit, i, m.id, what);
    });
    const entries: OutgoingEntry[] = messages.map((m, i) => {
      let delaySeconds: number | undefined;
      let notBefore: number | undefined;
      if (m.delayMs !== undefined && m.delayMs > 0) {
        requireCapability(this.capabilities, 'delayedSend');
        if (dest.kind === 'queue' && !phys.fifo) {
          delaySeconds = Math.ceil(m.delayMs / 1000);
          if (delaySeconds > MAX_DELAY_SECONDS) {
            throw new SwitchboardError('invalid_argument', `delayMs ${m.delayMs} is over SQS's 900-second DelaySeconds limit`, { details: { delayMs: m.delayMs, limitMs: MAX_DELAY_SECONDS * 1000 } });
          }
        } else {
          if (m.delayMs > MAX_DELAY_SECONDS * 1000) {
            throw new SwitchboardError('invalid_argument', `delayMs ${m.delayMs} is over the 900-second delay limit`, { details: { delayMs: m.delayMs, limitMs: MAX_DELAY_SECONDS * 1000 } });
          }
          notBefore = Date.now() + m.delayMs;
        }
      }
      const encoded = encodeMessage(m, { ...extras, ...(notBefore !== undefined ? { notBefore } : {}) }, i);
      assertEncodedSize(encoded, limit, i, m.id, what);
      return { encoded, id: m.id, key: m.key, delaySeconds };
    });
    const destination = `${dest.kind}:${dest.name}`;
    const sends = entries.map((e) => this.ctx.send(dest, phys, e));
    if (!confirm) {
      for (const s of sends) {
        s.catch(() => undefined);
        track?.(s);
      }
      return messages.map((m) => ({ id: m.id, destination, confirmed: false }));
    }
    const settled = await Promise.allSettled(sends);
    const receipts: SendReceipt[] = [];
    let firstError: unknown;
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') receipts.push({ id: messages[i]!.id, destination, confirmed: true, brokerRef: s.value });
      else firstError ??= s.reason;
    });
    if (firstError !== undefined) {
      const e = classifyError(firstError, `sending to ${destination}`);
      throw new SwitchboardError(e.code, e.message, {
        cause: e.cause ?? firstError,
        retryable: e.retryable,
        details: { ...e.details, receipts, failed: settled.length - receipts.length },
      });
    }
    return receipts;
  }

  request(producerTrack: (p: Promise<unknown>) => void, d: DestinationLike, message: OutgoingMessage | Body, options: RequestOptions = {}): Promise<Reply> {
    this.assertOpen();
    requireCapability(this.capabilities, 'requestResponse');
    return this.replies.request(d, message, options, producerTrack);
  }

  async ensureDestination(d: DestinationLike, _options?: DestinationOptions): Promise<void> {
    this.assertOpen();
    const { dest, phys } = this.resolve(d);
    if (dest.kind === 'queue') await this.ctx.queueUrl(phys);
    else await this.ctx.topicArn(phys);
  }

  async deleteDestination(d: DestinationLike): Promise<void> {
    this.assertOpen();
    const { dest, phys } = this.resolve(d);
    if (dest.kind === 'queue') {
      let url: string;
      try {
        url = await this.ctx.queueUrl(phys, false);
      } catch (err) {
        if (classifyError(err).code === 'not_found') return;
        throw err;
      }
      this.ctx.forgetQueue(phys.name);
      await this.ctx.sqs.send(new DeleteQueueCommand({ QueueUrl: url })).catch((err: unknown) => {
        const e = classifyError(err, `deleting queue ${phys.name}`);
        if (e.code !== 'not_found') throw e;
      });
      return;
    }
    const arn = await this.ctx.topicArn(phys);
    this.ctx.forgetTopic(phys.name);
    try {
      let next: string | undefined;
      do {
        const r = await this.ctx.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: arn, NextToken: next }));
        for (const s of r.Subscriptions ?? []) {
          if (s.SubscriptionArn?.startsWith('arn:')) await this.ctx.sns.send(new UnsubscribeCommand({ SubscriptionArn: s.SubscriptionArn }));
        }
        next = r.NextToken;
      } while (next);
      await this.ctx.sns.send(new DeleteTopicCommand({ TopicArn: arn }));
    } catch (err) {
      const e = classifyError(err, `deleting topic ${phys.name}`);
      if (e.code !== 'not_found') throw e;
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      await Promise.allSettled([...this.consumers].map((c) => c.close()));
      await Promise.allSettled([...this.producers].map((p) => p.close()));
      await this.replies.close();
      await this.ctx.drain();
      this.ctx.destroy();
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A producer: sends through the connection's batchers, tracks fire-and-forget sends for close(). */
class SqsProducer implements Producer {
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly conn: SqsConnectionImpl) {}

  private assertOpen(): void {
    if (this.closed) throw closedError('SQS producer');
    this.conn.assertOpen();
  }

  private readonly track = (p: Promise<unknown>) => {
    const q = p.catch(() => undefined);
    this.pending.add(q);
    void q.finally(() => this.pending.delete(q));
  };

  send(destination: DestinationLike, message: OutgoingMessage | Body, options?: SendOptions): Promise<SendReceipt>;
  send(destination: DestinationLike, messages: readonly (OutgoingMessage | Body)[], options?: SendOptions): Promise<SendReceipt[]>;
  async send(destination: DestinationLike, input: OutgoingMessage | Body | readonly (OutgoingMessage | Body)[], options: SendOptions = {}): Promise<SendReceipt | SendReceipt[]> {
    this.assertOpen();
    validateSendOptions(options);
    throwIfAborted(options.signal);
    const messages = normalizeMessages(input, options);
    const confirm = options.confirm ?? true;
    if (!confirm) requireCapability(this.conn.capabilities, 'fireAndForget');
    const p = this.conn.sendMessages(destination, messages, confirm, {}, this.track);
    if (confirm) this.track(p);
    const receipts = await p;
    return Array.isArray(input) ? receipts : receipts[0]!;
  }

  request(destination: DestinationLike, message: OutgoingMessage | Body, options?: RequestOptions): Promise<Reply> {
    try {
      this.assertOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.conn.request(this.track, destination, message, options);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      while (this.pending.size) await Promise.allSettled([...this.pending]);
      this.conn.forgetProducer(this);
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Request/response: one reply queue per connection (created on the first request, deleted on
 * close), received from while requests are pending; replies are matched by correlation id.
 */
class ReplyListener {
  private readonly pending = new PendingReplies();
  private queue: PhysicalName | undefined;
  private url: Promise<string> | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly conn: SqsConnectionImpl) {}

  async request(d: DestinationLike, message: OutgoingMessage | Body, options: RequestOptions, track: (p: Promise<unknown>) => void): Promise<Reply> {
    const { dest } = this.conn.resolve(d);
    const [m] = normalizeMessages(message, { headers: options.headers, key: options.key, id: options.id });
    throwIfAborted(options.signal);
    this.queue ??= physicalName(`sb-reply-${randomUUID().replace(/-/g, '').slice(0, 20)}`, this.conn.prefix, this.conn.ctx.options.fifo);
    const q = this.queue;
    this.url ??= this.conn.ctx.queueUrl(q);
    const url = this.url;
    url.catch(() => {
      if (this.url === url) this.url = undefined;
    });
    await url;
    const correlationId = randomUUID();
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const waiting = this.pending.wait(correlationId, timeoutMs, options.signal, `${dest.kind}:${dest.name}`);
    this.ensureLoop();
    const sent = this.conn.sendMessages(dest, [m!], true, { replyTo: q.name, correlationId });
    track(sent);
    sent.catch((err: unknown) => this.pending.reject(correlationId, err));
    return waiting;
  }

  private ensureLoop(): void {
    if (this.loop || this.stopped) return;
    this.loop = this.run().finally(() => {
      this.loop = undefined;
      if (this.pending.size && !this.stopped) this.ensureLoop();
    });
  }

  private async run(): Promise<void> {
    const ctx = this.conn.ctx;
    let backoff = 100;
    while (!this.stopped && this.pending.size > 0) {
      try {
        const url = await this.url!;
        const r = await ctx.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: ctx.options.receiveWaitSeconds,
            MessageAttributeNames: ['All'],
            VisibilityTimeout: 30,
          }),
        );
        backoff = 100;
        for (const msg of r.Messages ?? []) {
          if (msg.ReceiptHandle) void ctx.deleteMessage(url, msg.ReceiptHandle).catch(() => undefined);
          const dm = decodeMessage(msg);
          if (dm.correlationId) this.pending.resolve(dm.correlationId, createReply(dm.body, dm.headers, dm.correlationId));
        }
      } catch (err) {
        const e = classifyError(err, 'receiving replies');
        if (e.code === 'not_found' && this.queue) {
          ctx.forgetQueue(this.queue.name);
          this.url = ctx.queueUrl(this.queue);
          this.url.catch(() => undefined);
        }
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(2000, backoff * 2);
      }
    }
  }

  /** Sends a reply to a requester's reply queue (never created here: a vanished requester is `not_found`). */
  async sendReply(replyTo: string, correlationId: string | undefined, m: NormalizedMessage): Promise<void> {
    const ctx = this.conn.ctx;
    const q: PhysicalName = { name: replyTo, fifo: replyTo.endsWith('.fifo') };
    const encoded = encodeMessage(m, { correlationId });
    assertEncodedSize(encoded, ctx.options.maxPayloadBytes, 0, m.id, 'SQS');
    await ctx.queueUrl(q, false);
    await ctx.send({ kind: 'queue', name: replyTo }, q, { encoded, id: m.id, key: m.key, delaySeconds: undefined });
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.pending.rejectAll(closedError('SQS connection'));
    await this.loop;
    const url = await this.url?.catch(() => undefined);
    if (url && this.queue) {
      this.conn.ctx.forgetQueue(this.queue.name);
      await this.conn.ctx.sqs.send(new DeleteQueueCommand({ QueueUrl: url })).catch(() => undefined);
    }
  }
}

/**
 * Opens an SQS + SNS connection and checks the endpoint with one cheap call (ListQueues,
 * MaxResults 1). Rejects with `configuration` (bad URL/options, every problem listed),
 * `connection` (unreachable within connectTimeoutMs) or `auth` (credentials refused).
 */
export async function connectSqsParsed(url: ParsedUrl, options: ConnectOptions | SqsOptions = {}): Promise<SqsConnection> {
  const resolved = resolveSqsOptions(url, options as Record<string, unknown>);
  const ctx = new SqsContext(resolved);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), resolved.connectTimeoutMs);
  try {
    await ctx.sqs.send(new ListQueuesCommand({ MaxResults: 1 }), { abortSignal: abort.signal });
  } catch (err) {
    ctx.destroy();
    if (abort.signal.aborted) {
      throw new SwitchboardError('connection', `SQS endpoint of ${resolved.redactedUrl} did not answer within ${resolved.connectTimeoutMs} ms`, { cause: err });
    }
    const e = classifyError(err, `connecting to ${resolved.redactedUrl}`);
    if (e.code === 'aborted' || e.code === 'internal' || e.code === 'timeout') {
      throw new SwitchboardError('connection', e.message, { cause: err });
    }
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return new SqsConnectionImpl(ctx);
}

/**
 * Typed factory: `connectSqs('sqs+http://127.0.0.1:4566?region=us-east-1')` or
 * `connectSqs('sqs://eu-west-1', { prefix: 'myapp-' })`. Same contract as `connect()`.
 */
export function connectSqs(url: string, options: SqsOptions = {}): Promise<SqsConnection> {
  return connectSqsParsed(parseUrl(url), options);
}

/** The driver `connect()` loads for `sqs://`, `sqs+http://` and `sqs+https://`. */
export const driver: Driver = {
  name: 'sqs',
  schemes: ['sqs', 'sqs+http', 'sqs+https'],
  connect: (url, options) => connectSqsParsed(url, options),
};
