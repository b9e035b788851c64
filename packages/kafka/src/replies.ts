import { createReply, HEADERS, PendingReplies, closedError } from '@switchboard/core';
import type { Consumer as KafkaConsumer } from 'kafkajs';
import { classifyError } from './classify-error';
import type { KafkaConnection } from './connection';
import { consumerConfig } from './options';
import { applicationHeaders, decodeHeaders } from './records';

/**
 * The reply side of request/response: a one-partition topic per connection, read from its start by
 * a consumer group of its own. Replies are matched to waiting requests by correlation id; replies
 * nobody waits for (late, or for another connection) are dropped. The topic is deleted on close.
 */
export class ReplyListener {
  readonly pending = new PendingReplies();
  private consumer: KafkaConsumer | undefined;
  private starting: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly conn: KafkaConnection,
    readonly topic: string,
  ) {}

  ready(): Promise<void> {
    this.starting ??= this.start().catch((err) => {
      this.starting = undefined;
      throw classifyError(err);
    });
    return this.starting;
  }

  private async start(): Promise<void> {
    await this.conn.topics.ensure([this.topic], { partitions: 1 });
    const consumer = this.conn.kafka.consumer(consumerConfig(this.conn.options, this.topic));
    this.consumer = consumer;
    const joined = new Promise<void>((resolve) => {
      const off = consumer.on(consumer.events.GROUP_JOIN, () => {
        off();
        resolve();
      });
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        const raw = decodeHeaders(message.headers);
        const id = raw[HEADERS.correlationId];
        if (!id) return;
        const body = message.value ? new Uint8Array(message.value) : new Uint8Array(0);
        this.pending.resolve(id, createReply(body, applicationHeaders(raw), id));
      },
    });
    await joined;
    if (this.closed) throw closedError('kafka reply listener');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pending.rejectAll(closedError('kafka connection'));
    await this.starting?.catch(() => undefined);
    await this.consumer?.disconnect().catch(() => undefined);
    const admin = this.conn.kadmin;
    await Promise.race([
      admin.deleteTopics({ topics: [this.topic], timeout: 2000 }).catch(() => undefined),
      new Promise((r) => setTimeout(r, 2500).unref()),
    ]);
  }
}
