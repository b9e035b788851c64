import { DeleteQueueCommand, GetQueueUrlCommand, ListQueuesCommand } from '@aws-sdk/client-sqs';
import { DeleteTopicCommand, ListSubscriptionsByTopicCommand, ListTopicsCommand, UnsubscribeCommand, type Subscription } from '@aws-sdk/client-sns';
import { requireCapability, SwitchboardError, type BrokerObject, type Capabilities, type Destination, type ParsedUrl } from '@switchboard/core';
import type { ConnectOptions, DriverHost, DriverSession, NormalizedMessage, ResolvedConsumerOptions } from '@switchboard/core/driver';
import { sqsCapabilities } from './capabilities';
import { assertEncodedSize, encodeMessage, isAttributeName, MAX_HEADERS, type EncodeExtras } from './codec';
import { createSqsConsumer } from './consumer';
import { MAX_DELAY_SECONDS, SqsContext, type OutgoingEntry } from './context';
import { classifyError } from './errors';
import { assertValidDestination, groupOfQueue, groupQueueName, physicalName, type PhysicalName } from './names';
import { resolveSqsOptions } from './options';
import { ReplyQueue } from './replies';

/**
 * Opens the SQS + SNS half of a connection: resolves the URL and options (one `configuration`
 * error listing every problem) and checks the endpoint with one cheap call (ListQueues,
 * MaxResults 1), stopped by `host.signal` when core's connect timeout passes. Refused
 * credentials are `auth`; an endpoint that fails otherwise is `connection`.
 */
export async function openSqsSession(url: ParsedUrl, options: ConnectOptions, host: DriverHost): Promise<DriverSession> {
  const { drivers: _drivers, ...rest } = options;
  const resolved = resolveSqsOptions(url, rest);
  const ctx = new SqsContext(resolved, host);
  try {
    await ctx.sqs.send(new ListQueuesCommand({ MaxResults: 1 }), { abortSignal: host.signal });
  } catch (err) {
    ctx.destroy();
    const e = classifyError(err, `connecting to ${resolved.redactedUrl}`);
    if (e.code === 'aborted' || e.code === 'internal' || e.code === 'timeout') throw new SwitchboardError('connection', e.message, { cause: err });
    throw e;
  }
  ctx.health.arm();
  return new SqsSession(ctx, host);
}

/**
 * The broker half of an SQS connection: queues are SQS queues, topics SNS topics fanned out to one
 * SQS queue per consumer group. Sends go through per-destination batchers; requests get their
 * replies through a per-connection reply queue.
 */
class SqsSession implements DriverSession {
  readonly url: string;
  readonly capabilities: Capabilities;
  readonly maxMessageBytes: number;
  readonly limitName = 'SQS/SNS (maxPayloadBytes)';
  /** 10 message attributes, one kept for the message id (or the `sb` overflow); trace headers count as the application's. */
  readonly maxHeaders = MAX_HEADERS;
  /** SQS DelaySeconds caps a delay at 15 minutes (emulated delays keep the same ceiling). */
  readonly maxDelayMs = MAX_DELAY_SECONDS * 1000;
  /** Messages encoded by checkMessages, so publish does not encode them twice. */
  private readonly encoded = new WeakMap<NormalizedMessage, OutgoingEntry>();
  private readonly replies: ReplyQueue;

  constructor(
    private readonly ctx: SqsContext,
    host: DriverHost,
  ) {
    const o = ctx.options;
    this.url = o.redactedUrl;
    this.capabilities = sqsCapabilities(o.customEndpoint, o.fifo);
    this.maxMessageBytes = o.maxPayloadBytes;
    this.replies = new ReplyQueue(ctx, host.replies, (dest, m, extras) => this.sendOne(dest, m, extras));
  }

  private phys(d: Destination): PhysicalName {
    return physicalName(d.name, this.ctx.options.prefix, this.ctx.options.fifo);
  }

  checkDestination(d: Destination): void {
    assertValidDestination(d, this.ctx.options.prefix, this.ctx.options.fifo);
  }

  /** The SQS/SNS limits: at most 9 application headers (10 attributes), a 900 s delay, the encoded size. */
  checkMessages(dest: Destination, messages: readonly NormalizedMessage[]): void {
    messages.forEach((m, i) => this.encoded.set(m, this.entry(dest, m, {}, i)));
  }

  /**
   * Encodes one message for its destination. Standard queues delay natively (DelaySeconds, whole
   * seconds); topics and FIFO queues carry an earliest-delivery time that consumers honour.
   */
  private entry(dest: Destination, m: NormalizedMessage, extras: EncodeExtras, index: number): OutgoingEntry {
    const phys = this.phys(dest);
    let delaySeconds: number | undefined;
    let notBefore: number | undefined;
    if (m.delayMs !== undefined && m.delayMs > 0) {
      if (m.delayMs > MAX_DELAY_SECONDS * 1000) {
        throw new SwitchboardError('invalid_argument', `delayMs ${m.delayMs} is over the 900-second delay limit of SQS`, {
          details: { delayMs: m.delayMs, limitMs: MAX_DELAY_SECONDS * 1000 },
        });
      }
      if (dest.kind === 'queue' && !phys.fifo) delaySeconds = Math.ceil(m.delayMs / 1000);
      else notBefore = Date.now() + m.delayMs;
    }
    const encoded = encodeMessage(m, { ...extras, ...(notBefore !== undefined ? { notBefore } : {}) }, index);
    assertEncodedSize(encoded, this.ctx.options.maxPayloadBytes, index, m.id, dest.kind === 'queue' ? 'SQS' : 'SNS');
    return { encoded, id: m.id, key: m.key, delaySeconds };
  }

  private sendOne(dest: Destination, m: NormalizedMessage, extras: EncodeExtras): Promise<string> {
    return this.ctx.send(dest, this.phys(dest), this.entry(dest, m, extras, 0));
  }

  publish(dest: Destination, messages: readonly NormalizedMessage[]): readonly Promise<string | undefined>[] {
    const phys = this.phys(dest);
    return this.ctx.sendAll(dest, phys, messages.map((m, i) => this.encoded.get(m) ?? this.entry(dest, m, {}, i)));
  }

  request: DriverSession['request'] = (dest, message, meta) => this.replies.request(dest, message, meta);

  /**
   * Sends a reply to a requester's reply queue, named by `sb-reply-to` as a queue name or a queue
   * URL (foreign requesters may give either); never creates it (a vanished requester is `not_found`).
   */
  async reply(replyTo: string, correlationId: string | undefined, m: NormalizedMessage): Promise<void> {
    let name = replyTo;
    if (/^https?:\/\//i.test(replyTo)) {
      name = `url:${replyTo}`;
      this.ctx.knowQueueUrl(name, replyTo);
    }
    const q: PhysicalName = { name, fifo: replyTo.endsWith('.fifo') };
    const encoded = encodeMessage(m, { correlationId });
    assertEncodedSize(encoded, this.ctx.options.maxPayloadBytes, 0, m.id, 'SQS');
    await this.ctx.queueUrl(q, false);
    await this.ctx.send({ kind: 'queue', name }, q, { encoded, id: m.id, key: m.key, delaySeconds: undefined });
  }

  async consumer(source: Destination, o: ResolvedConsumerOptions) {
    if (typeof o.from === 'object') requireCapability(this.capabilities, 'replayFromPosition');
    if (o.filter && Object.keys(o.filter).length) {
      if (source.kind !== 'topic') throw new SwitchboardError('invalid_argument', 'a header filter needs a topic source: it is an SNS filter policy on the group subscription');
      for (const k of Object.keys(o.filter)) {
        if (!isAttributeName(k) || k.startsWith('sb-')) throw new SwitchboardError('invalid_argument', `cannot filter on header "${k}": only headers that travel as SNS message attributes can be filtered`);
      }
    }
    const phys = this.phys(source);
    const queue = source.kind === 'queue' ? phys : groupQueueName(phys, o.group);
    const provision = async (): Promise<string> => {
      const url = await this.ctx.queueUrl(queue);
      if (source.kind === 'topic') {
        try {
          await this.ctx.subscribeQueue(await this.ctx.topicArn(phys), queue, url, o.filter);
        } catch (err) {
          // The topic vanished (deleted, emulator restarted): create it again once.
          if (classifyError(err).code !== 'not_found') throw err;
          this.ctx.forgetTopic(phys.name);
          await this.ctx.subscribeQueue(await this.ctx.topicArn(phys), queue, url, o.filter);
        }
      }
      return url;
    };
    return createSqsConsumer({
      ctx: this.ctx,
      source,
      queue,
      options: o,
      provision,
      sendTo: async (to, m) => {
        await this.sendOne(to, m, {});
      },
    });
  }

  async ensureDestination(d: Destination): Promise<void> {
    if (d.kind === 'queue') await this.ctx.queueUrl(this.phys(d));
    else await this.ctx.topicArn(this.phys(d));
  }

  /**
   * Deletes a queue; or a topic with its subscriptions and the SQS queue of every consumer group
   * Switchboard made for it (`<topic>--<group>`, subscribed or not). Absent is fine.
   */
  async deleteDestination(d: Destination): Promise<void> {
    const phys = this.phys(d);
    if (d.kind === 'queue') {
      await this.deleteQueue(phys.name);
      return;
    }
    const arn = await this.findTopicArn(phys);
    const groupQueues = new Set<string>();
    if (arn) {
      for (const s of await this.subscriptions(arn)) {
        const q = queueNameOfArn(s.Endpoint);
        if (q !== undefined && groupOfQueue(phys, q, true)) groupQueues.add(q);
        if (s.SubscriptionArn?.startsWith('arn:')) await this.ctx.sns.send(new UnsubscribeCommand({ SubscriptionArn: s.SubscriptionArn })).catch(ignoreMissing('unsubscribing'));
      }
    }
    for (const q of await this.unsubscribedGroupQueues(phys)) groupQueues.add(q);
    for (const q of groupQueues) await this.deleteQueue(q);
    this.ctx.forgetTopic(phys.name);
    if (arn) await this.ctx.sns.send(new DeleteTopicCommand({ TopicArn: arn })).catch(ignoreMissing(`deleting topic ${phys.name}`));
  }

  /**
   * Deletes one consumer group of a topic: its subscription and its SQS queue (with what it holds).
   * A queue's consumers all share the queue itself, so a queue has no per-group object: nothing to do.
   */
  async deleteGroup(d: Destination, group: string): Promise<void> {
    if (d.kind === 'queue') return;
    const phys = this.phys(d);
    const q = groupQueueName(phys, group);
    const arn = await this.findTopicArn(phys);
    if (arn) {
      for (const s of await this.subscriptions(arn)) {
        if (queueNameOfArn(s.Endpoint) === q.name && s.SubscriptionArn?.startsWith('arn:')) {
          await this.ctx.sns.send(new UnsubscribeCommand({ SubscriptionArn: s.SubscriptionArn })).catch(ignoreMissing('unsubscribing'));
        }
      }
    }
    await this.deleteQueue(q.name);
  }

  /**
   * What exists for a destination: the queue; or the topic, its subscriptions and the group queues
   * (with their group where the queue name gives it back: hashed names do not).
   */
  async listObjects(d: Destination): Promise<BrokerObject[]> {
    const phys = this.phys(d);
    if (d.kind === 'queue') return (await this.queueExists(phys.name)) ? [{ type: 'queue', name: phys.name }] : [];
    const out: BrokerObject[] = [];
    const queues = new Map<string, string | undefined>();
    const arn = await this.findTopicArn(phys);
    if (arn) {
      out.push({ type: 'topic', name: phys.name });
      for (const s of await this.subscriptions(arn)) {
        const q = queueNameOfArn(s.Endpoint);
        const owned = q === undefined ? undefined : groupOfQueue(phys, q, true);
        if (!owned || !s.SubscriptionArn) continue;
        out.push({ type: 'subscription', name: s.SubscriptionArn, ...(owned.group !== undefined ? { group: owned.group } : {}) });
        if (await this.queueExists(q!)) queues.set(q!, owned.group);
      }
    }
    for (const q of await this.unsubscribedGroupQueues(phys)) if (!queues.has(q)) queues.set(q, groupOfQueue(phys, q)?.group);
    for (const [name, group] of queues) out.push({ type: 'queue', name, ...(group !== undefined ? { group } : {}) });
    return out;
  }

  private async deleteQueue(name: string): Promise<void> {
    this.ctx.forgetQueue(name);
    let url: string | undefined;
    try {
      url = (await this.ctx.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
    } catch (err) {
      return ignoreMissing(`queue ${name}`)(err);
    }
    if (url) await this.ctx.sqs.send(new DeleteQueueCommand({ QueueUrl: url })).catch(ignoreMissing(`deleting queue ${name}`));
  }

  private async queueExists(name: string): Promise<boolean> {
    try {
      await this.ctx.sqs.send(new GetQueueUrlCommand({ QueueName: name }));
      return true;
    } catch (err) {
      ignoreMissing(`queue ${name}`)(err);
      return false;
    }
  }

  /** The topic's ARN when it exists (ListTopics: CreateTopic would create it). */
  private async findTopicArn(t: PhysicalName): Promise<string | undefined> {
    let next: string | undefined;
    do {
      const r = await this.ctx.sns.send(new ListTopicsCommand({ NextToken: next })).catch((err: unknown) => Promise.reject(classifyError(err, 'listing topics')));
      const hit = r.Topics?.find((x) => x.TopicArn?.split(':').pop() === t.name);
      if (hit?.TopicArn) return hit.TopicArn;
      next = r.NextToken;
    } while (next);
    return undefined;
  }

  private async subscriptions(topicArn: string): Promise<Subscription[]> {
    const out: Subscription[] = [];
    let next: string | undefined;
    try {
      do {
        const r = await this.ctx.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: next }));
        out.push(...(r.Subscriptions ?? []));
        next = r.NextToken;
      } while (next);
    } catch (err) {
      ignoreMissing(`listing subscriptions of ${topicArn}`)(err);
    }
    return out;
  }

  /** Group queues of plain names (`<topic>--<group>`), found by name: also those whose subscription is gone. */
  private async unsubscribedGroupQueues(t: PhysicalName): Promise<string[]> {
    const topicBase = t.fifo ? t.name.slice(0, -'.fifo'.length) : t.name;
    const out: string[] = [];
    let next: string | undefined;
    do {
      const r = await this.ctx.sqs
        .send(new ListQueuesCommand({ QueueNamePrefix: `${topicBase}--`, MaxResults: 1000, NextToken: next }))
        .catch((err: unknown) => Promise.reject(classifyError(err, 'listing queues')));
      for (const url of r.QueueUrls ?? []) {
        const name = url.split('/').pop() ?? '';
        if (groupOfQueue(t, name)) out.push(name);
      }
      next = r.NextToken;
    } while (next);
    return out;
  }

  classifyError(err: unknown): SwitchboardError {
    return classifyError(err);
  }

  /** Stops the reply queue (and deletes it), waits for every queued batch call, frees the clients. */
  async close(): Promise<void> {
    await this.replies.close();
    await this.ctx.drain();
    this.ctx.destroy();
  }
}

/** An error handler that lets `not_found` pass (deleting what is gone already is fine). */
const ignoreMissing = (what: string) => (err: unknown): void => {
  const e = classifyError(err, what);
  if (e.code !== 'not_found') throw e;
};

/** The queue name of an SQS subscription endpoint (`arn:aws:sqs:<region>:<account>:<name>`). */
function queueNameOfArn(endpoint: string | undefined): string | undefined {
  if (!endpoint?.startsWith('arn:') || !endpoint.includes(':sqs:')) return undefined;
  return endpoint.split(':').pop();
}
