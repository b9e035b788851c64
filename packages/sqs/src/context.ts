import http from 'node:http';
import https from 'node:https';
import {
  ChangeMessageVisibilityBatchCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SendMessageBatchCommand,
  SetQueueAttributesCommand,
  SQSClient,
  type SendMessageBatchRequestEntry,
} from '@aws-sdk/client-sqs';
import {
  CreateTopicCommand,
  ListSubscriptionsByTopicCommand,
  PublishBatchCommand,
  SetSubscriptionAttributesCommand,
  SNSClient,
  SubscribeCommand,
  type PublishBatchRequestEntry,
} from '@aws-sdk/client-sns';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SwitchboardError, type Destination, type Headers } from '@switchboard/core';
import { Batcher, type EntryOutcome } from './batcher';
import type { EncodedMessage } from './codec';
import { classifyError } from './errors';
import { fifoToken, type PhysicalName } from './names';
import type { ResolvedSqsOptions } from './options';
import { EndpointHealth, sdkLogger } from './diagnostics';
import type { DriverHost } from '@switchboard/core/driver';

/** SQS caps VisibilityTimeout at 12 hours. */
export const MAX_VISIBILITY_SECONDS = 43_200;
/** SQS caps DelaySeconds at 15 minutes. */
export const MAX_DELAY_SECONDS = 900;

/** One message ready for SendMessageBatch / PublishBatch. */
export interface OutgoingEntry {
  encoded: EncodedMessage;
  id: string;
  key: string | undefined;
  delaySeconds: number | undefined;
}

interface ReceiptEntry {
  receiptHandle: string;
  visibility?: number;
}

/**
 * What one connection shares: the SQS and SNS clients, caches of queue URLs / topic ARNs, and the
 * batchers that turn single sends, acks and visibility changes into batch calls.
 */
export class SqsContext {
  readonly sqs: SQSClient;
  /**
   * The client of ReceiveMessage calls only, on sockets of its own: a long poll holds its socket
   * for up to 20 s (an idle consumer's wait), so on the shared pool idle consumers would take every socket
   * and sends, acks and admin calls would queue behind them. Its pool is not capped: the consumers
   * bound what they hold in flight (one receive per idle consumer, up to 8 for a busy one).
   */
  readonly receiver: SQSClient;
  readonly sns: SNSClient;
  private readonly queueUrls = new Map<string, Promise<string>>();
  private readonly queueArns = new Map<string, Promise<string>>();
  private readonly topicArns = new Map<string, Promise<string>>();
  /** Batchers of sends, publishes, deletes and visibility changes, per destination / queue URL. */
  private readonly batchers = new Map<string, { drain(): Promise<void> }>();
  private readonly agents: { http: http.Agent; https: https.Agent };
  private readonly receiveAgents: { http: http.Agent; https: https.Agent };

  /** Whether the endpoint answers; reported to the application when that changes. */
  readonly health: EndpointHealth;

  constructor(
    readonly options: ResolvedSqsOptions,
    host: Pick<DriverHost, 'logger' | 'report'>,
  ) {
    this.health = new EndpointHealth(host, options.redactedUrl);
    this.agents = {
      http: new http.Agent({ keepAlive: true, maxSockets: options.maxSockets }),
      https: new https.Agent({ ...options.tls, keepAlive: true, maxSockets: options.maxSockets }),
    };
    this.receiveAgents = {
      http: new http.Agent({ keepAlive: true }),
      https: new https.Agent({ ...options.tls, keepAlive: true }),
    };
    const handler = (agents: { http: http.Agent; https: https.Agent }) =>
      new NodeHttpHandler({
        connectionTimeout: Math.min(options.connectTimeoutMs, 10_000),
        requestTimeout: options.requestTimeoutMs,
        httpAgent: agents.http,
        httpsAgent: agents.https,
      });
    const common = {
      region: options.region,
      maxAttempts: options.sdkMaxAttempts,
      requestHandler: handler(this.agents),
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      logger: sdkLogger(host),
    };
    this.sqs = new SQSClient(common);
    this.receiver = new SQSClient({ ...common, requestHandler: handler(this.receiveAgents) });
    this.sns = new SNSClient(common);
    // Every call's outcome, after the SDK's retries, tells whether the endpoint answers.
    for (const client of [this.sqs, this.receiver, this.sns] as { middlewareStack: SQSClient['middlewareStack'] }[]) {
      client.middlewareStack.add(
        (next) => async (args) => {
          try {
            const out = await next(args);
            this.health.ok();
            return out;
          } catch (err) {
            this.health.failed(err);
            throw err;
          }
        },
        { step: 'initialize', name: 'switchboardEndpointHealth' },
      );
    }
  }

  destroy(): void {
    this.sqs.destroy();
    this.receiver.destroy();
    this.sns.destroy();
    for (const a of [this.agents, this.receiveAgents]) {
      a.http.destroy();
      a.https.destroy();
    }
  }

  // ---- provisioning -------------------------------------------------------------------------

  /** The queue URL, creating the queue when it does not exist (idempotent, cached). */
  queueUrl(q: PhysicalName, create = true): Promise<string> {
    const cached = this.queueUrls.get(q.name);
    if (cached) return cached;
    const p = (async () => {
      try {
        const r = await this.sqs.send(new GetQueueUrlCommand({ QueueName: q.name }));
        if (r.QueueUrl) return r.QueueUrl;
      } catch (err) {
        const e = classifyError(err, `queue ${q.name}`);
        if (e.code !== 'not_found' || !create) throw e;
      }
      try {
        const r = await this.sqs.send(
          new CreateQueueCommand({ QueueName: q.name, ...(q.fifo ? { Attributes: { FifoQueue: 'true' } } : {}) }),
        );
        if (!r.QueueUrl) throw new SwitchboardError('internal', `CreateQueue ${q.name} returned no URL`);
        return r.QueueUrl;
      } catch (err) {
        throw classifyError(err, `creating queue ${q.name}`);
      }
    })();
    this.queueUrls.set(q.name, p);
    p.catch(() => this.queueUrls.delete(q.name));
    return p;
  }

  /** Remembers the URL of a queue known by URL (a foreign requester's reply queue). */
  knowQueueUrl(name: string, url: string): void {
    if (!this.queueUrls.has(name)) this.queueUrls.set(name, Promise.resolve(url));
  }

  /** Forgets a cached queue URL (the queue was deleted, e.g. by a broker restart). */
  forgetQueue(name: string): void {
    this.queueUrls.delete(name);
    this.queueArns.delete(name);
  }

  forgetTopic(name: string): void {
    this.topicArns.delete(name);
  }

  queueArn(q: PhysicalName, url: string): Promise<string> {
    const cached = this.queueArns.get(q.name);
    if (cached) return cached;
    const p = this.sqs
      .send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))
      .then((r) => {
        const arn = r.Attributes?.QueueArn;
        if (!arn) throw new SwitchboardError('internal', `queue ${q.name} has no QueueArn`);
        return arn;
      })
      .catch((err: unknown) => {
        this.queueArns.delete(q.name);
        throw classifyError(err, `queue ${q.name}`);
      });
    this.queueArns.set(q.name, p);
    return p;
  }

  /** The topic ARN; CreateTopic is idempotent, so this creates the topic on first use (cached). */
  topicArn(t: PhysicalName): Promise<string> {
    const cached = this.topicArns.get(t.name);
    if (cached) return cached;
    const p = this.sns
      .send(new CreateTopicCommand({ Name: t.name, ...(t.fifo ? { Attributes: { FifoTopic: 'true' } } : {}) }))
      .then((r) => {
        if (!r.TopicArn) throw new SwitchboardError('internal', `CreateTopic ${t.name} returned no ARN`);
        return r.TopicArn;
      })
      .catch((err: unknown) => {
        this.topicArns.delete(t.name);
        throw classifyError(err, `topic ${t.name}`);
      });
    this.topicArns.set(t.name, p);
    return p;
  }

  /**
   * Subscribes the group queue to the topic with the filter policy, and lets the topic send to the
   * queue (queue policy). Idempotent; a changed filter updates the subscription. Delivery is the SNS
   * envelope (no raw delivery): it carries the SNS MessageId, which is the same in every group, so
   * a message a foreign client published has one id everywhere; subscriptions older versions made
   * with raw delivery are switched over (raw messages still in the queue decode as before).
   */
  async subscribeQueue(topicArn: string, q: PhysicalName, queueUrl: string, filter: Headers | undefined): Promise<void> {
    const queueArn = await this.queueArn(q, queueUrl);
    try {
      const attrs = await this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['Policy'] }));
      if (!attrs.Attributes?.Policy?.includes(topicArn)) {
        const policy = {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'switchboard-sns',
              Effect: 'Allow',
              Principal: { Service: 'sns.amazonaws.com' },
              Action: 'sqs:SendMessage',
              Resource: queueArn,
              Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
            },
          ],
        };
        await this.sqs.send(new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { Policy: JSON.stringify(policy) } }));
      }
    } catch (err) {
      throw classifyError(err, `setting the policy of queue ${q.name}`);
    }
    const filterPolicy = filter && Object.keys(filter).length ? JSON.stringify(Object.fromEntries(Object.entries(filter).map(([k, v]) => [k, [v]]))) : undefined;
    const attributes: Record<string, string> = { RawMessageDelivery: 'false', ...(filterPolicy ? { FilterPolicy: filterPolicy } : {}) };
    try {
      await this.sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn, Attributes: attributes, ReturnSubscriptionArn: true }));
      return;
    } catch (err) {
      const e = classifyError(err, `subscribing queue ${q.name}`);
      if (e.code !== 'invalid_argument') throw e;
    }
    // The subscription exists with other attributes (another filter): update it.
    const arn = await this.findSubscription(topicArn, queueArn);
    if (!arn) throw new SwitchboardError('internal', `subscribing queue ${q.name} to ${topicArn} failed and no subscription was found`);
    try {
      await this.sns.send(new SetSubscriptionAttributesCommand({ SubscriptionArn: arn, AttributeName: 'RawMessageDelivery', AttributeValue: 'false' }));
      await this.sns.send(new SetSubscriptionAttributesCommand({ SubscriptionArn: arn, AttributeName: 'FilterPolicy', AttributeValue: filterPolicy ?? '' }));
    } catch (err) {
      throw classifyError(err, `updating the subscription of queue ${q.name}`);
    }
  }

  async findSubscription(topicArn: string, endpoint: string): Promise<string | undefined> {
    let next: string | undefined;
    do {
      const r = await this.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: next })).catch((err: unknown) => {
        throw classifyError(err, `listing subscriptions of ${topicArn}`);
      });
      const s = r.Subscriptions?.find((x) => x.Endpoint === endpoint);
      if (s?.SubscriptionArn) return s.SubscriptionArn;
      next = r.NextToken;
    } while (next);
    return undefined;
  }

  // ---- sending --------------------------------------------------------------------------------

  /** The batcher under `key`, made on first use. */
  private batcher<T, R>(key: string, make: () => Batcher<T, R>): Batcher<T, R> {
    let b = this.batchers.get(key) as Batcher<T, R> | undefined;
    if (!b) this.batchers.set(key, (b = make()));
    return b;
  }

  /**
   * Sends one encoded message through the batcher of its destination; resolves with the MessageId.
   * FIFO destinations get one batch in flight at a time: two concurrent batch calls may land in
   * either order, which would break per-key (message group) order across batches.
   */
  send(dest: Destination, phys: PhysicalName, entry: OutgoingEntry): Promise<string> {
    return this.sendBatcher(dest, phys).add(entry);
  }

  /** Sends several messages to one destination: they enter its batcher together (full batch calls). */
  sendAll(dest: Destination, phys: PhysicalName, entries: readonly OutgoingEntry[]): Promise<string>[] {
    return this.sendBatcher(dest, phys).addAll(entries);
  }

  private sendBatcher(dest: Destination, phys: PhysicalName): Batcher<OutgoingEntry, string> {
    const options = {
      maxEntries: 10,
      maxBytes: this.options.maxPayloadBytes,
      sizeOf: (e: OutgoingEntry) => e.encoded.size,
      lingerMs: this.options.batchLingerMs,
      concurrency: phys.fifo ? 1 : 16,
    };
    const batcher =
      dest.kind === 'queue'
        ? this.batcher(`send ${phys.name}`, () => {
            const run = (entries: OutgoingEntry[]) =>
              retryMissing(`queue ${phys.name}`, () => this.queueUrl(phys), () => this.forgetQueue(phys.name), (url) => this.sendBatch(phys, url, entries));
            return new Batcher(run, options);
          })
        : this.batcher(`publish ${phys.name}`, () => {
            const run = (entries: OutgoingEntry[]) =>
              retryMissing(`topic ${phys.name}`, () => this.topicArn(phys), () => this.forgetTopic(phys.name), (arn) => this.publishBatch(phys, arn, entries));
            return new Batcher(run, options);
          });
    return batcher;
  }

  private async sendBatch(q: PhysicalName, url: string, entries: OutgoingEntry[]): Promise<EntryOutcome<string>[]> {
    const req: SendMessageBatchRequestEntry[] = entries.map((e, i) => ({
      Id: String(i),
      MessageBody: e.encoded.body,
      MessageAttributes: e.encoded.attributes,
      ...(e.delaySeconds ? { DelaySeconds: e.delaySeconds } : {}),
      ...fifoIds(q, e),
    }));
    const r = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: req }));
    return outcomes(entries.length, r.Successful, r.Failed, `sending to queue ${q.name}`);
  }

  private async publishBatch(t: PhysicalName, arn: string, entries: OutgoingEntry[]): Promise<EntryOutcome<string>[]> {
    const req: PublishBatchRequestEntry[] = entries.map((e, i) => ({ Id: String(i), Message: e.encoded.body, MessageAttributes: e.encoded.attributes, ...fifoIds(t, e) }));
    const r = await this.sns.send(new PublishBatchCommand({ TopicArn: arn, PublishBatchRequestEntries: req }));
    return outcomes(entries.length, r.Successful, r.Failed, `publishing to topic ${t.name}`);
  }

  // ---- settling -------------------------------------------------------------------------------

  /** Deletes a received message (ack), batched per queue. */
  deleteMessage(queueUrl: string, receiptHandle: string): Promise<void> {
    return this.receiptBatcher('DeleteMessage', queueUrl, async (entries) => {
      const r = await this.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries.map((e, i) => ({ Id: String(i), ReceiptHandle: e.receiptHandle })) }));
      return settleOutcomes(entries.length, r, 'deleting a message');
    })
      .add({ receiptHandle })
      .catch((err: unknown) => Promise.reject(classifyError(err, 'ack (DeleteMessage)')));
  }

  /** Sets a received message's visibility timeout (nack, extend, release), batched per queue. */
  changeVisibility(queueUrl: string, receiptHandle: string, seconds: number): Promise<void> {
    return this.receiptBatcher('ChangeMessageVisibility', queueUrl, async (entries) => {
      const r = await this.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: entries.map((e, i) => ({ Id: String(i), ReceiptHandle: e.receiptHandle, VisibilityTimeout: e.visibility ?? 0 })),
        }),
      );
      // Visibility 0 for a message no longer in flight is done already (see isNotInFlight).
      return settleOutcomes(entries.length, r, 'changing visibility').map((o, i) =>
        o.ok || (entries[i]!.visibility === 0 && isNotInFlight(o.error)) ? { ok: true as const, value: undefined } : o,
      );
    })
      .add({ receiptHandle, visibility: seconds })
      .catch((err: unknown) => Promise.reject(classifyError(err, 'ChangeMessageVisibility')));
  }

  private receiptBatcher(action: string, queueUrl: string, run: (entries: ReceiptEntry[]) => Promise<EntryOutcome<void>[]>): Batcher<ReceiptEntry, void> {
    return this.batcher(`${action} ${queueUrl}`, () => new Batcher<ReceiptEntry, void>(run, { maxEntries: 10, lingerMs: this.options.batchLingerMs, concurrency: 8 }));
  }

  /** Waits for every queued send, publish, delete and visibility change. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.batchers.values()].map((b) => b.drain()));
  }
}

/**
 * Making a message visible again (visibility 0) is done when it is no longer in flight: it is
 * visible already, or was received again. This also covers a retried call whose first attempt
 * did apply (fauxqs 2.4.1 with persistence answers visibility 0 with a 500 after applying it).
 */
function isNotInFlight(err: unknown): boolean {
  const code = (err as SwitchboardError | undefined)?.details?.awsCode;
  return code === 'ReceiptHandleIsInvalid' || code === 'MessageNotInflight';
}

interface BatchFailure {
  Id?: string | undefined;
  Code?: string | undefined;
  Message?: string | undefined;
  SenderFault?: boolean | undefined;
}

/** Per-entry outcomes of a batch call from its `Successful` and `Failed` lists (by entry `Id`, the index). */
export function outcomes(
  n: number,
  ok: readonly { Id?: string | undefined; MessageId?: string | undefined }[] | undefined,
  failed: readonly BatchFailure[] | undefined,
  what: string,
): EntryOutcome<string>[] {
  // Filled from the response; an error is made only for an entry the response left out (an Error per
  // entry up front cost about 4 % of the CPU of a busy consumer: stack traces).
  const out = new Array<EntryOutcome<string> | undefined>(n);
  for (const s of ok ?? []) {
    const i = Number(s.Id);
    if (Number.isInteger(i) && i >= 0 && i < n) out[i] = { ok: true, value: s.MessageId ?? '' };
  }
  for (const f of failed ?? []) {
    const i = Number(f.Id);
    if (!Number.isInteger(i) || i < 0 || i >= n) continue;
    const err = Object.assign(new Error(f.Message ?? f.Code ?? 'failed'), { name: f.Code ?? 'Error' });
    const e = classifyError(err, what);
    out[i] = { ok: false, error: f.SenderFault === false && e.code === 'internal' ? new SwitchboardError('internal', e.message, { cause: err, retryable: true }) : e };
  }
  for (let i = 0; i < n; i++) out[i] ??= { ok: false, error: new SwitchboardError('internal', `${what}: no result for this entry`) };
  return out as EntryOutcome<string>[];
}

/** FIFO message group (the key, else the id) and deduplication id (the message id). */
function fifoIds(d: PhysicalName, e: OutgoingEntry) {
  return d.fifo ? { MessageGroupId: fifoToken(e.key ?? e.id), MessageDeduplicationId: fifoToken(e.id) } : {};
}

/** Runs `fn` with a queue URL or topic ARN; when it vanished (deleted, emulator restarted), forgets it and creates it again once. */
async function retryMissing<T, R>(what: string, resolve: () => Promise<T>, forget: () => void, fn: (ref: T) => Promise<R>): Promise<R> {
  const ref = await resolve();
  try {
    return await fn(ref);
  } catch (err) {
    if (classifyError(err, what).code !== 'not_found') throw classifyError(err, what);
    forget();
    return fn(await resolve());
  }
}

/** Per-entry outcomes of a delete or visibility batch call. */
function settleOutcomes(n: number, r: { Successful?: { Id?: string | undefined }[] | undefined; Failed?: BatchFailure[] | undefined }, what: string): EntryOutcome<void>[] {
  return outcomes(n, r.Successful, r.Failed, what).map((o) => (o.ok ? { ok: true as const, value: undefined } : o));
}
