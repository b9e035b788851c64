// The wire format against a live endpoint (SWITCHBOARD_TEST_SQS_URL; skipped without it), read and
// written with the AWS SDK alone (issue 14): native attributes, one id per SNS message in every
// group, subscriptions older versions made with raw delivery, messages older versions wrote.
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { CreateTopicCommand, GetSubscriptionAttributesCommand, ListSubscriptionsByTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { parseUrl, type Delivery } from '@switchboard/core';
import { connectSqs, resolveSqsOptions, type SqsConnection } from '@switchboard/sqs';

const url = process.env.SWITCHBOARD_TEST_SQS_URL;
const suffix = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

async function pollOne(c: { poll: (o: { max: number; waitMs: number }) => Promise<Delivery[]> }, ms = 15_000): Promise<Delivery> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    const [d] = await c.poll({ max: 1, waitMs: 1000 });
    if (d) {
      await d.ack();
      return d;
    }
  }
  throw new Error(`nothing within ${ms} ms`);
}

(url ? describe : describe.skip)('sqs wire format - against a live endpoint', () => {
  let conn: SqsConnection;
  let sqs: SQSClient;
  let sns: SNSClient;
  beforeAll(async () => {
    conn = await connectSqs(url!);
    const o = resolveSqsOptions(parseUrl(url!));
    const config = { region: o.region, ...(o.endpoint ? { endpoint: o.endpoint } : {}), ...(typeof o.credentials === 'object' ? { credentials: o.credentials } : {}) };
    sqs = new SQSClient(config);
    sns = new SNSClient(config);
  });
  afterAll(async () => {
    await conn.close();
    sqs.destroy();
    sns.destroy();
  });

  const rawReceive = async (queue: string): Promise<Message> => {
    const QueueUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: queue }))).QueueUrl!;
    for (let i = 0; i < 10; i++) {
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }));
      if (r.Messages?.[0]) return r.Messages[0];
    }
    throw new Error(`nothing on ${queue}`);
  };

  it('wire format - id, key and headers are attributes of their own a foreign consumer reads, with no private blob', async () => {
    const q = `wire-${suffix()}`;
    await conn.admin.ensureDestination(q);
    await conn.producer().send(q, { id: 'order-1', key: 'customer-7', body: 'x', headers: { tenant: 'acme', empty: '' } });
    const m = await rawReceive(q);
    const a = Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue]));
    expect(a).toEqual({ 'sb-message-id': 'order-1', 'sb-key': 'customer-7', tenant: 'acme', 'sb-empty-headers': 'empty' });
    await conn.admin.deleteDestination(q);
  });

  it('wire format - nine headers and the id fill the ten attributes; more metadata overflows into sb and still round-trips', async () => {
    const q = `wire-${suffix()}`;
    await conn.admin.ensureDestination(q);
    const headers = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`h${i}`, `v${i}`]));
    await conn.producer().send(q, { id: 'full', body: 'x', headers });
    const m = await rawReceive(q);
    expect(Object.keys(m.MessageAttributes ?? {}).sort()).toEqual([...Object.keys(headers), 'sb-message-id'].sort());
    await conn.producer().send(q, { id: 'over', key: 'k', body: 'y', headers });
    const c = await conn.consumer(q);
    const got: Delivery[] = [];
    // `full` stays hidden (received above, not deleted): wait for `over` only.
    for (const deadline = Date.now() + 20_000; !got.some((d) => d.id === 'over') && Date.now() < deadline; ) {
      for (const d of await c.poll({ max: 10, waitMs: 1000 })) {
        got.push(d);
        await d.ack();
      }
    }
    const over = got.find((d) => d.id === 'over');
    expect(over?.key).toBe('k');
    expect(over?.headers).toEqual(headers);
    await c.close();
    await conn.admin.deleteDestination(q);
  });

  it('fan-out - a message a foreign client publishes to the SNS topic has its SNS MessageId as id in every group', async () => {
    const t = `wire-${suffix()}`;
    const g1 = await conn.consumer(`topic:${t}`, { group: 'g1' });
    const g2 = await conn.consumer(`topic:${t}`, { group: 'g2' });
    const arn = (await sns.send(new CreateTopicCommand({ Name: t }))).TopicArn!;
    const { MessageId } = await sns.send(new PublishCommand({ TopicArn: arn, Message: 'foreign', MessageAttributes: { tenant: { DataType: 'String', StringValue: 'acme' } } }));
    const [a, b] = [await pollOne(g1), await pollOne(g2)];
    expect(a.text()).toBe('foreign');
    expect(a.headers).toEqual({ tenant: 'acme' });
    expect(a.id).toBe(MessageId);
    expect(b.id).toBe(MessageId);
    await g1.close();
    await g2.close();
    await conn.admin.deleteDestination(`topic:${t}`);
  });

  it('upgrade - a group subscription made with raw delivery is switched to the envelope, and messages older versions wrote still decode', async () => {
    const t = `wire-${suffix()}`;
    const arn = (await sns.send(new CreateTopicCommand({ Name: t }))).TopicArn!;
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${t}--old` }))).QueueUrl!;
    const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    await sns.send(new SubscribeCommand({ TopicArn: arn, Protocol: 'sqs', Endpoint: queueArn, Attributes: { RawMessageDelivery: 'true' } }));
    // What an older version wrote: everything in the sb attribute, raw delivery.
    const old = { i: 'old-1', k: 'key-1', e: 'b64', h: { empty: '' } };
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: Buffer.from([0xff, 0x00]).toString('base64'),
        MessageAttributes: { sb: { DataType: 'String', StringValue: JSON.stringify(old) }, tenant: { DataType: 'String', StringValue: 'acme' } },
      }),
    );
    const c = await conn.consumer(`topic:${t}`, { group: 'old' });
    const subs = (await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: arn }))).Subscriptions ?? [];
    const sub = subs.find((s) => s.Endpoint === queueArn)!;
    const attrs = (await sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: sub.SubscriptionArn! }))).Attributes ?? {};
    expect(attrs.RawMessageDelivery).toBe('false');
    const d = await pollOne(c);
    expect(d.id).toBe('old-1');
    expect(d.key).toBe('key-1');
    expect([...d.body]).toEqual([0xff, 0x00]);
    expect(d.headers).toEqual({ tenant: 'acme', empty: '' });
    await c.close();
    await conn.admin.deleteDestination(`topic:${t}`);
  });

  it('request/reply - a responder answers a reply-to given as a queue URL (a foreign requester)', async () => {
    const q = `wire-${suffix()}`;
    const responder = await conn.consumer(q);
    const h = responder.consume((d) => d.respond(`re: ${d.text()}`));
    const replyUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `wire-reply-${suffix()}` }))).QueueUrl!;
    const target = (await sqs.send(new GetQueueUrlCommand({ QueueName: q }))).QueueUrl!;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: target,
        MessageBody: 'ping',
        MessageAttributes: { 'sb-reply-to': { DataType: 'String', StringValue: replyUrl }, 'sb-correlation-id': { DataType: 'String', StringValue: 'c-1' } },
      }),
    );
    let reply: Message | undefined;
    for (let i = 0; i < 15 && !reply; i++) {
      reply = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: replyUrl, WaitTimeSeconds: 1, MessageAttributeNames: ['All'] }))).Messages?.[0];
    }
    expect(reply?.Body).toBe('re: ping');
    expect(reply?.MessageAttributes?.['sb-correlation-id']?.StringValue).toBe('c-1');
    await h.close();
    await conn.admin.deleteDestination(q);
    await conn.admin.deleteDestination(replyUrl.split('/').pop()!).catch(() => undefined);
  });
});
