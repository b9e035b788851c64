import { randomUUID } from 'node:crypto';
import { DeleteQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { Destination } from '@switchboard/core';
import { createReply, type NormalizedMessage, type ReplySink, type RequestMeta } from '@switchboard/core/driver';
import { decodeMessage, type EncodeExtras } from './codec';
import type { SqsContext } from './context';
import { classifyError } from './errors';
import { physicalName, type PhysicalName } from './names';

/**
 * Request/response over SQS: one reply queue per connection (`sb-reply-<random>`, created on the
 * first request, deleted on close), received from while requests wait. Replies go to core's
 * {@link ReplySink}, which matches them by correlation id and owns timeouts and cancellation.
 */
export class ReplyQueue {
  private queue: PhysicalName | undefined;
  private url: Promise<string> | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;
  /** Correlation ids of requests sent from here; core's sink says which of them still wait. */
  private readonly waiting = new Set<string>();

  constructor(
    private readonly ctx: SqsContext,
    private readonly sink: ReplySink,
    private readonly send: (dest: Destination, m: NormalizedMessage, extras: EncodeExtras) => Promise<string>,
  ) {}

  /** Sends the request with reply-to and correlation id in its metadata; the reply reaches the sink. */
  async request(dest: Destination, m: NormalizedMessage, meta: RequestMeta): Promise<void> {
    const { prefix, fifo } = this.ctx.options;
    this.queue ??= physicalName(`sb-reply-${randomUUID().replace(/-/g, '').slice(0, 20)}`, prefix, fifo);
    const q = this.queue;
    const url = (this.url ??= this.ctx.queueUrl(q));
    url.catch(() => {
      if (this.url === url) this.url = undefined;
    });
    await url;
    const id = meta.correlationId;
    this.waiting.add(id);
    this.ensureLoop();
    try {
      await this.send(dest, m, { replyTo: q.name, correlationId: id });
    } catch (err) {
      this.waiting.delete(id);
      throw err;
    }
  }

  /** Whether any request may still get a reply (forgets those core answered, timed out, aborted or closed). */
  private get anyWaiting(): boolean {
    for (const id of this.waiting) if (!this.sink.isWaiting(id)) this.waiting.delete(id);
    return this.waiting.size > 0;
  }

  private ensureLoop(): void {
    if (this.loop || this.stopped) return;
    this.loop = this.run().finally(() => {
      this.loop = undefined;
      if (this.anyWaiting && !this.stopped) this.ensureLoop();
    });
  }

  private async run(): Promise<void> {
    const ctx = this.ctx;
    let backoff = 100;
    while (!this.stopped && this.anyWaiting) {
      try {
        const url = await this.url!;
        const r = await ctx.receiver.send(
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
          if (!dm.correlationId) continue;
          this.waiting.delete(dm.correlationId);
          this.sink.resolve(dm.correlationId, createReply(dm.body, dm.headers, dm.correlationId));
        }
      } catch (err) {
        // The reply queue vanished (deleted, emulator restarted): create it again.
        if (classifyError(err).code === 'not_found' && this.queue) {
          ctx.forgetQueue(this.queue.name);
          this.url = ctx.queueUrl(this.queue);
          this.url.catch(() => undefined);
        }
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(2000, backoff * 2);
      }
    }
  }

  /** Stops receiving (after the long-poll slice in flight) and deletes the reply queue. */
  async close(): Promise<void> {
    this.stopped = true;
    this.waiting.clear();
    await this.loop;
    const url = await this.url?.catch(() => undefined);
    if (url && this.queue) {
      this.ctx.forgetQueue(this.queue.name);
      await this.ctx.sqs.send(new DeleteQueueCommand({ QueueUrl: url })).catch(() => undefined);
    }
  }
}
