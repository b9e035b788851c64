import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  type SQSClientConfig,
} from '@aws-sdk/client-sqs';
import { parseUrl } from '@switchboard/core';
import type { BenchParams, BenchTarget, ConsumerSink, TargetFactory } from '../workload';

/** Receive loops of the raw consumer for a prefetch: one per 10 messages, at most 8 (as the adapter). */
export function sqsReceiveLoops(prefetch: number): number {
  return Math.min(8, Math.max(1, Math.ceil(prefetch / 10)));
}

/** SDK client settings for a Switchboard SQS URL (`sqs://region`, `sqs+http(s)://host:port?region=`). */
export function sqsClientConfig(url: string): SQSClientConfig {
  const p = parseUrl(url);
  const host = p.hosts[0];
  if (p.scheme === 'sqs') return { region: host?.host ?? p.params.region ?? 'us-east-1' };
  const protocol = p.scheme === 'sqs+https' ? 'https' : 'http';
  return {
    region: p.params.region ?? 'us-east-1',
    endpoint: `${protocol}://${host?.host ?? '127.0.0.1'}${host?.port ? `:${host.port}` : ''}`,
    credentials:
      p.username !== undefined && p.password !== undefined
        ? { accessKeyId: p.username, secretAccessKey: p.password }
        : { accessKeyId: 'test', secretAccessKey: 'test' },
  };
}

/**
 * The AWS SDK v3 doing the workload plainly: a standard queue; each batch is split into
 * SendMessageBatch calls of 10 sent in parallel (a batch is confirmed when all of them succeeded
 * for every entry); `sqsReceiveLoops(prefetch)` loops long-poll ReceiveMessage (10 at a time,
 * WaitTimeSeconds 1) and delete what they got with one DeleteMessageBatch, counting after it.
 */
export const rawSqs: TargetFactory = (url: string, params: BenchParams): BenchTarget => {
  const client = new SQSClient(sqsClientConfig(url));
  let queueUrl: string | undefined;
  let stopped = false;
  const loops: Promise<void>[] = [];
  let torn: Promise<void> | undefined;
  const receiveLoop = async (qUrl: string, sink: ConsumerSink) => {
    while (!stopped) {
      const r = await client.send(new ReceiveMessageCommand({ QueueUrl: qUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      const got = r.Messages ?? [];
      if (got.length === 0) continue;
      const del = await client.send(new DeleteMessageBatchCommand({ QueueUrl: qUrl, Entries: got.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
      if (del.Failed?.length) throw new Error(`DeleteMessageBatch failed for ${del.Failed.length} entries: ${del.Failed[0]?.Message ?? ''}`);
      for (const m of got) sink.onAcked(Buffer.from(m.Body ?? '', 'utf8'));
    }
  };
  return {
    async setup(destination: string, sink: ConsumerSink) {
      queueUrl = (await client.send(new CreateQueueCommand({ QueueName: destination }))).QueueUrl!;
      for (let i = 0; i < sqsReceiveLoops(params.prefetch); i++) {
        const l = receiveLoop(queueUrl, sink);
        l.catch((err: unknown) => {
          if (!stopped) sink.onError(err);
        });
        loops.push(l);
      }
    },
    async publish(bodies: Buffer[]) {
      const calls: Promise<void>[] = [];
      for (let i = 0; i < bodies.length; i += 10) {
        const entries = bodies.slice(i, i + 10).map((b, j) => ({ Id: String(j), MessageBody: b.toString('utf8') }));
        calls.push(
          client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl!, Entries: entries })).then((r) => {
            if (r.Failed?.length) throw new Error(`SendMessageBatch failed for ${r.Failed.length} entries: ${r.Failed[0]?.Message ?? ''}`);
          }),
        );
      }
      await Promise.all(calls);
    },
    teardown() {
      torn ??= (async () => {
        stopped = true;
        await Promise.allSettled(loops);
        if (queueUrl) await client.send(new DeleteQueueCommand({ QueueUrl: queueUrl })).catch(() => undefined);
        client.destroy();
      })();
      return torn;
    },
  };
};
