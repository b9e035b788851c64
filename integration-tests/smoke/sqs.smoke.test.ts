import { randomUUID } from 'node:crypto';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { CreateTopicCommand, DeleteTopicCommand, PublishCommand, SNSClient, SubscribeCommand, UnsubscribeCommand } from '@aws-sdk/client-sns';
import { describeWithBroker, sqsEndpoint } from '../harness';

async function receiveOne(sqs: SQSClient, queueUrl: string): Promise<Message> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }));
    if (Messages?.[0]) return Messages[0];
  }
  throw new Error('no message within 15s');
}

describeWithBroker('sqs', (broker) => {
  let sqs: SQSClient;
  let sns: SNSClient;
  beforeAll(() => {
    const config = sqsEndpoint(broker.url());
    sqs = new SQSClient(config);
    sns = new SNSClient(config);
  });
  afterAll(() => {
    sqs?.destroy();
    sns?.destroy();
  });

  it('sqs smoke - one message sent and received with the AWS SDK', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `smoke-${randomUUID()}` }));
    try {
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello sqs' }));
      const msg = await receiveOne(sqs, QueueUrl!);
      expect(msg.Body).toBe('hello sqs');
      await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: msg.ReceiptHandle }));
    } finally {
      await sqs.send(new DeleteQueueCommand({ QueueUrl }));
    }
  });

  it('sns smoke - one message published to a topic fans out to a subscribed SQS queue', async () => {
    const name = `smoke-${randomUUID()}`;
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name }));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    let subscriptionArn: string | undefined;
    try {
      const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
      ({ SubscriptionArn: subscriptionArn } = await sns.send(
        new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes!.QueueArn, Attributes: { RawMessageDelivery: 'true' } }),
      ));
      await sns.send(new PublishCommand({ TopicArn, Message: 'hello sns' }));
      const msg = await receiveOne(sqs, QueueUrl!);
      expect(msg.Body).toBe('hello sns');
      await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: msg.ReceiptHandle }));
    } finally {
      if (subscriptionArn) await sns.send(new UnsubscribeCommand({ SubscriptionArn: subscriptionArn }));
      await sns.send(new DeleteTopicCommand({ TopicArn }));
      await sqs.send(new DeleteQueueCommand({ QueueUrl }));
    }
  });

  // What the SQS adapter's wire format rests on (issue 14): without raw delivery every subscribed queue
  // gets the SNS envelope with the one SNS MessageId (so a foreign message has one id in every group),
  // attributes as Type/Value (Binary in base64), Number values as the exact text sent.
  it('sns smoke - envelope delivery gives every subscribed queue the same SNS MessageId and the typed attributes', async () => {
    const name = `smoke-${randomUUID()}`;
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name }));
    const queues: { url: string; sub?: string }[] = [];
    try {
      for (const g of ['a', 'b']) {
        const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-${g}` }));
        const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
        const { SubscriptionArn } = await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes!.QueueArn, ReturnSubscriptionArn: true }));
        queues.push({ url: QueueUrl!, ...(SubscriptionArn ? { sub: SubscriptionArn } : {}) });
      }
      const { MessageId } = await sns.send(
        new PublishCommand({
          TopicArn,
          Message: 'hello',
          MessageAttributes: { n: { DataType: 'Number', StringValue: '1.50' }, b: { DataType: 'Binary', BinaryValue: Buffer.from([0, 255]) } },
        }),
      );
      for (const q of queues) {
        const envelope = JSON.parse((await receiveOne(sqs, q.url)).Body!) as Record<string, unknown>;
        expect(envelope).toMatchObject({ Type: 'Notification', MessageId, Message: 'hello', MessageAttributes: { n: { Type: 'Number', Value: '1.50' }, b: { Type: 'Binary', Value: 'AP8=' } } });
      }
    } finally {
      for (const q of queues) {
        if (q.sub) await sns.send(new UnsubscribeCommand({ SubscriptionArn: q.sub }));
        await sqs.send(new DeleteQueueCommand({ QueueUrl: q.url }));
      }
      await sns.send(new DeleteTopicCommand({ TopicArn }));
    }
  });

  // What the SQS adapter's name mapping rests on: queue names are case-sensitive (Ab and ab are two
  // queues). fauxqs 2.4.1 does not check names at all (it creates "a.x", 81-character names, even
  // "sp ace"), while AWS allows only [A-Za-z0-9_-], 80 characters with ".fifo": the adapter checks
  // AWS's rules itself before any call, so a run against fauxqs cannot hide a name AWS would refuse.
  it('sqs smoke - queue names are case-sensitive', async () => {
    const base = `smoke${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const upper = await sqs.send(new CreateQueueCommand({ QueueName: `${base}Ab` }));
    const lower = await sqs.send(new CreateQueueCommand({ QueueName: `${base}ab` }));
    try {
      expect(upper.QueueUrl).not.toBe(lower.QueueUrl);
      await sqs.send(new SendMessageCommand({ QueueUrl: upper.QueueUrl, MessageBody: 'upper' }));
      expect((await receiveOne(sqs, upper.QueueUrl!)).Body).toBe('upper');
      const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: lower.QueueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }));
      expect(Messages ?? []).toHaveLength(0);
    } finally {
      for (const u of [upper.QueueUrl, lower.QueueUrl]) await sqs.send(new DeleteQueueCommand({ QueueUrl: u }));
    }
  });
});
