// The IX cases' foreign side for SQS + SNS: the AWS SDK alone, never Switchboard, working on the queues
// and topics the adapter uses, in the wire format packages/sqs/README.md ("Wire format") documents:
// - queue `q`: the SQS queue `q` (periods encoded as `_dot<mask>`, `.fifo` appended in FIFO mode);
//   topic `t`: the SNS topic `t`; a reader subscribes a queue of its own (raw delivery);
// - id: the `sb-message-id` String attribute; key: `sb-key` (FIFO: also the MessageGroupId);
//   headers: String attributes, empty values listed in `sb-empty-headers`; what did not fit as an
//   attribute is in the `sb` attribute (JSON: i id, k key, e body encoding, h headers);
// - body: text as is; other bytes base64 with `sb-body-encoding: base64`; no bytes `-` with `empty`;
// - request/reply (Switchboard's convention, SQS has none): `sb-reply-to` (a queue name or URL) and
//   `sb-correlation-id` on the request; the reply goes to that queue with the same `sb-correlation-id`.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
  type Message,
  type MessageAttributeValue,
} from '@aws-sdk/client-sqs';
import {
  CreateTopicCommand,
  ListSubscriptionsCommand,
  ListTopicsCommand,
  type ListTopicsCommandOutput,
  type ListSubscriptionsCommandOutput,
  PublishCommand,
  SNSClient,
  SubscribeCommand,
  UnsubscribeCommand,
  type MessageAttributeValue as SnsAttributeValue,
} from '@aws-sdk/client-sns';
import type { Destination, Headers } from '@switchboard/core';
import type { ForeignClient, ForeignMessage, ForeignSide } from '@switchboard/conformance';

/** Attributes Switchboard's wire format uses for itself: not the application's headers. */
const WIRE = new Set(['sb', 'sb-message-id', 'sb-key', 'sb-reply-to', 'sb-correlation-id', 'sb-body-encoding', 'sb-not-before', 'sb-empty-headers']);

/** Bytes that are not valid UTF-8 (a lossy text conversion shows). */
const RAW_BYTES = Buffer.from([0, 1, 0xff, 0xfe, 0x80, 0xc3, 0x28]);
const SQS_TEXT = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The stored name of a name base, as the README's "Names" says: periods become `_`, then `_dot<hex mask>`. */
function encodeBase(base: string): string {
  if (!base.includes('.')) return base;
  let mask = 0n;
  let bit = 0n;
  let out = '';
  for (const ch of base) {
    if (ch === '.' || ch === '_') {
      if (ch === '.') mask |= 1n << bit;
      bit += 1n;
      out += '_';
    } else out += ch;
  }
  return `${out}_dot${mask.toString(16)}`;
}

interface Target {
  readonly fifo: boolean;
  physical(dest: Destination): string;
}

function targetOf(url: URL): Target {
  const fifo = url.searchParams.get('fifo') === 'true' || url.searchParams.get('fifo') === '1';
  const prefix = url.searchParams.get('prefix') ?? '';
  return {
    fifo,
    physical(dest) {
      const suffixed = dest.name.endsWith('.fifo') && dest.name.length > 5;
      const base = suffixed ? dest.name.slice(0, -5) : dest.name;
      return `${prefix}${encodeBase(base)}${suffixed || fifo ? '.fifo' : ''}`;
    },
  };
}

/** A body as the wire format carries it. */
function encodeBody(body: Uint8Array): { text: string; encoding?: string } {
  if (body.byteLength === 0) return { text: '-', encoding: 'empty' };
  try {
    const text = strictUtf8.decode(body);
    if (SQS_TEXT.test(text)) return { text };
  } catch {
    // not UTF-8: base64 below
  }
  return { text: Buffer.from(body).toString('base64'), encoding: 'base64' };
}

/** Reads a message Switchboard sent, by the README alone. */
function toForeign(m: Message): ForeignMessage {
  const attrs = m.MessageAttributes ?? {};
  const str = (k: string) => attrs[k]?.StringValue;
  let overflow: { i?: string; k?: string; e?: string; h?: Record<string, string> } = {};
  try {
    overflow = str('sb') ? (JSON.parse(str('sb')!) as typeof overflow) : {};
  } catch {
    overflow = {};
  }
  const headers: Record<string, string> = {};
  for (const [k, a] of Object.entries(attrs)) if (!WIRE.has(k) && a.StringValue !== undefined) headers[k] = a.StringValue;
  for (const k of (str('sb-empty-headers') ?? '').split(',')) if (k) headers[k] = '';
  Object.assign(headers, overflow.h ?? {});
  const encoding = str('sb-body-encoding') ?? (overflow.e === 'b64' ? 'base64' : overflow.e);
  const text = m.Body ?? '';
  const body = encoding === 'empty' ? new Uint8Array(0) : encoding === 'base64' ? new Uint8Array(Buffer.from(text, 'base64')) : new TextEncoder().encode(text);
  return { body, key: str('sb-key') ?? overflow.k, headers, id: str('sb-message-id') ?? overflow.i };
}

async function open(rawUrl: string): Promise<ForeignClient> {
  const url = new URL(rawUrl);
  const scheme = url.protocol.replace(/:$/, '');
  const region = url.searchParams.get('region') ?? (scheme === 'sqs' ? url.hostname : 'us-east-1');
  const endpoint = scheme === 'sqs' ? undefined : `${scheme === 'sqs+http' ? 'http' : 'https'}://${url.host}`;
  const config = {
    region,
    ...(endpoint ? { endpoint } : {}),
    ...(url.username ? { credentials: { accessKeyId: decodeURIComponent(url.username), secretAccessKey: decodeURIComponent(url.password) } } : scheme === 'sqs+http' ? { credentials: { accessKeyId: 'test', secretAccessKey: 'test' } } : {}),
    // An endpoint behind a private CA (?ca=<PEM file>): the SDK's own handler options, as an SDK user would set them.
    ...(url.searchParams.get('ca') ? { requestHandler: { httpsAgent: new https.Agent({ ca: readFileSync(url.searchParams.get('ca')!, 'utf8') }) } } : {}),
  };
  const sqs = new SQSClient(config);
  const sns = new SNSClient(config);
  const target = targetOf(url);
  const closers = new Set<() => Promise<void>>();

  const queueUrl = async (name: string) => (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;
  const topicArn = async (name: string) =>
    (await sns.send(new CreateTopicCommand({ Name: name, ...(name.endsWith('.fifo') ? { Attributes: { FifoTopic: 'true' } } : {}) }))).TopicArn!;

  /** Sends a body with String/Number/Binary attributes to the queue or topic of `dest`. */
  const put = async (dest: Destination, body: string, attributes: Record<string, MessageAttributeValue & SnsAttributeValue>, group?: string, dedup?: string) => {
    const name = target.physical(dest);
    const fifo = name.endsWith('.fifo') ? { MessageGroupId: group ?? randomUUID(), MessageDeduplicationId: dedup ?? randomUUID() } : {};
    if (dest.kind === 'queue') await sqs.send(new SendMessageCommand({ QueueUrl: await queueUrl(name), MessageBody: body, MessageAttributes: attributes, ...fifo }));
    else await sns.send(new PublishCommand({ TopicArn: await topicArn(name), Message: body, MessageAttributes: attributes, ...fifo }));
  };

  /** A queue of our own subscribed to a topic with raw delivery (what a foreign reader of a topic does); removed by the returned function. */
  const tap = async (dest: Destination): Promise<{ url: string; remove(): Promise<void> }> => {
    const fifo = target.physical(dest).endsWith('.fifo');
    const name = `fx-${randomUUID().slice(0, 8)}${fifo ? '.fifo' : ''}`;
    const qUrl = (await sqs.send(new CreateQueueCommand({ QueueName: name, ...(fifo ? { Attributes: { FifoQueue: 'true' } } : {}) }))).QueueUrl!;
    const qArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: qUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    const arn = await topicArn(target.physical(dest));
    const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'sns.amazonaws.com' }, Action: 'sqs:SendMessage', Resource: qArn, Condition: { ArnEquals: { 'aws:SourceArn': arn } } }] };
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: qUrl, Attributes: { Policy: JSON.stringify(policy) } }));
    const sub = await sns.send(new SubscribeCommand({ TopicArn: arn, Protocol: 'sqs', Endpoint: qArn, Attributes: { RawMessageDelivery: 'true' }, ReturnSubscriptionArn: true }));
    return {
      url: qUrl,
      async remove() {
        if (sub.SubscriptionArn) await sns.send(new UnsubscribeCommand({ SubscriptionArn: sub.SubscriptionArn })).catch(() => undefined);
        await sqs.send(new DeleteQueueCommand({ QueueUrl: qUrl })).catch(() => undefined);
      },
    };
  };

  const receiveFrom = (qUrl: string, waitSeconds = 1) =>
    sqs.send(new ReceiveMessageCommand({ QueueUrl: qUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }));

  return {
    async publish(dest, m) {
      const attributes: Record<string, MessageAttributeValue> = {};
      const empty: string[] = [];
      for (const [k, v] of Object.entries(m.headers ?? {})) {
        if (v === '') empty.push(k);
        else attributes[k] = { DataType: 'String', StringValue: v };
      }
      if (empty.length) attributes['sb-empty-headers'] = { DataType: 'String', StringValue: empty.join(',') };
      if (m.key !== undefined) attributes['sb-key'] = { DataType: 'String', StringValue: m.key };
      if (m.id !== undefined) attributes['sb-message-id'] = { DataType: 'String', StringValue: m.id };
      const { text, encoding } = encodeBody(m.body);
      if (encoding) attributes['sb-body-encoding'] = { DataType: 'String', StringValue: encoding };
      await put(dest, text, attributes, m.key, m.id);
    },

    async receive(dest, n, timeoutMs) {
      let qUrl = '';
      let remove: () => Promise<void> = async () => undefined;
      const ready = (async () => {
        if (dest.kind === 'queue') qUrl = await queueUrl(target.physical(dest));
        else ({ url: qUrl, remove } = await tap(dest));
      })();
      const messages = (async () => {
        await ready;
        const got: ForeignMessage[] = [];
        try {
          for (const deadline = Date.now() + timeoutMs; got.length < n; ) {
            if (Date.now() > deadline) throw new Error(`the foreign reader got ${got.length} of ${n} messages within ${timeoutMs} ms`);
            for (const m of (await receiveFrom(qUrl)).Messages ?? []) {
              got.push(toForeign(m));
              await sqs.send(new DeleteMessageCommand({ QueueUrl: qUrl, ReceiptHandle: m.ReceiptHandle! }));
            }
          }
          return got.slice(0, n);
        } finally {
          await remove();
        }
      })();
      messages.catch(() => undefined);
      return { ready, messages };
    },

    async publishTyped(dest) {
      // SNS takes String, String.Array, Number and Binary; SQS also custom types (Number.x, Binary.x, String.x).
      const attributes: Record<string, MessageAttributeValue & SnsAttributeValue> = {
        plain: { DataType: 'String', StringValue: 'text' },
        decimal: { DataType: 'Number', StringValue: '1.50' },
        big: { DataType: 'Number', StringValue: '123456789012345678901234567890.000000001' },
        negative: { DataType: 'Number', StringValue: '-7' },
        bytes: { DataType: 'Binary', BinaryValue: RAW_BYTES },
        list: { DataType: 'String.Array', StringValue: '["a",1,true]' },
      };
      const expected: Headers = {
        plain: 'text',
        decimal: '1.50',
        big: '123456789012345678901234567890.000000001',
        negative: '-7',
        bytes: `base64:${RAW_BYTES.toString('base64')}`,
        list: '["a",1,true]',
      };
      if (dest.kind === 'queue') {
        attributes['custom-number'] = { DataType: 'Number.float', StringValue: '2.250' };
        attributes['custom-bytes'] = { DataType: 'Binary.gif', BinaryValue: Buffer.from([0xff, 0]) };
        attributes['custom-text'] = { DataType: 'String.json', StringValue: '{"a":1}' };
        Object.assign(expected, { 'custom-number': '2.250', 'custom-bytes': `base64:${Buffer.from([0xff, 0]).toString('base64')}`, 'custom-text': '{"a":1}' });
      }
      await put(dest, 'typed', attributes);
      return { expected };
    },

    async respond(dest, answer) {
      const qUrl = await queueUrl(target.physical(dest));
      let stopped = false;
      const loop = (async () => {
        while (!stopped) {
          const r = await receiveFrom(qUrl).catch(() => ({ Messages: [] as Message[] }));
          for (const m of r.Messages ?? []) {
            const replyTo = m.MessageAttributes?.['sb-reply-to']?.StringValue;
            const correlationId = m.MessageAttributes?.['sb-correlation-id']?.StringValue;
            if (replyTo) {
              const to = /^https?:\/\//.test(replyTo) ? replyTo : await queueUrl(replyTo);
              const fifo = to.endsWith('.fifo') ? { MessageGroupId: randomUUID(), MessageDeduplicationId: randomUUID() } : {};
              await sqs.send(
                new SendMessageCommand({
                  QueueUrl: to,
                  MessageBody: answer(toForeign(m)),
                  MessageAttributes: correlationId ? { 'sb-correlation-id': { DataType: 'String', StringValue: correlationId } } : {},
                  ...fifo,
                }),
              );
            }
            await sqs.send(new DeleteMessageCommand({ QueueUrl: qUrl, ReceiptHandle: m.ReceiptHandle! }));
          }
        }
      })();
      loop.catch(() => undefined);
      const close = async () => {
        stopped = true;
        await loop.catch(() => undefined);
      };
      closers.add(close);
      return { close };
    },

    async request(dest, body, timeoutMs) {
      // A reply queue of our own, given by URL; the request carries sb-reply-to and sb-correlation-id.
      const replyUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `fx-reply-${randomUUID().slice(0, 8)}` }))).QueueUrl!;
      const correlationId = randomUUID();
      try {
        await put(dest, body, {
          'sb-reply-to': { DataType: 'String', StringValue: replyUrl },
          'sb-correlation-id': { DataType: 'String', StringValue: correlationId },
        });
        for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
          for (const m of (await receiveFrom(replyUrl)).Messages ?? []) {
            if (m.MessageAttributes?.['sb-correlation-id']?.StringValue === correlationId) return toForeign(m);
          }
        }
        throw new Error(`no reply within ${timeoutMs} ms`);
      } finally {
        await sqs.send(new DeleteQueueCommand({ QueueUrl: replyUrl })).catch(() => undefined);
      }
    },

    async listObjects() {
      const out: string[] = [];
      let next: string | undefined;
      do {
        const r = await sqs.send(new ListQueuesCommand({ MaxResults: 1000, NextToken: next }));
        for (const u of r.QueueUrls ?? []) out.push(`queue:${u.split('/').pop()}`);
        next = r.NextToken;
      } while (next);
      next = undefined;
      do {
        const r: ListTopicsCommandOutput = await sns.send(new ListTopicsCommand({ NextToken: next }));
        for (const t of r.Topics ?? []) out.push(`topic:${t.TopicArn?.split(':').pop()}`);
        next = r.NextToken;
      } while (next);
      next = undefined;
      do {
        const r: ListSubscriptionsCommandOutput = await sns.send(new ListSubscriptionsCommand({ NextToken: next }));
        for (const s of r.Subscriptions ?? []) out.push(`subscription:${s.TopicArn?.split(':').pop()}->${s.Endpoint?.split(':').pop()}`);
        next = r.NextToken;
      } while (next);
      return out;
    },

    async close() {
      for (const c of closers) await c();
      sqs.destroy();
      sns.destroy();
    },
  };
}

/** The AWS SDK (client-sqs, client-sns) as the other side of Switchboard's SQS adapter. */
export const sqsForeign: ForeignSide = {
  open,
  typedHeaders: true,
  // SQS has no reply convention of its own: IX5 runs Switchboard's documented one (sb-reply-to +
  // sb-correlation-id attributes) from a client that knows only the README, both ways.
  nativeRequestReply: true,
  stableIds: true,
};
