import { closedError, HEADERS } from '@switchboard/core';
import { createReply, type ReplySink } from '@switchboard/core/driver';
import type { Consumer as KafkaConsumer } from 'kafkajs';
import { classifyError } from './classify-error';
import { replyGroupId } from './naming';
import { consumerConfig } from './options';
import { applicationHeaders, decodeHeaders } from './records';
import type { KafkaClient } from './session';

/**
 * The reply side of request/response: a one-partition topic per connection, read from its start by
 * a consumer group of its own, started on the first request. Every reply goes to core's
 * {@link ReplySink}, which matches it to a waiting request by correlation id (replies nobody waits
 * for, late or meant for another connection, are dropped there). The topic and the group are deleted on close.
 */
export class ReplyReader {
  private consumer: KafkaConsumer | undefined;
  private starting: Promise<string> | undefined;
  private closed = false;

  constructor(
    private readonly client: KafkaClient,
    readonly topic: string,
    private readonly sink: ReplySink,
  ) {}

  /** Starts reading (once); resolves with the reply topic once this reader has joined its group. */
  ready(): Promise<string> {
    if (this.closed) return Promise.reject(closedError('kafka reply reader'));
    this.starting ??= this.start().catch((err: unknown) => {
      this.starting = undefined;
      throw classifyError(err);
    });
    return this.starting;
  }

  private async start(): Promise<string> {
    await this.client.topics.ensure([this.topic], { partitions: 1 });
    const consumer = this.client.consumerKafka.consumer(consumerConfig(this.client.options, replyGroupId(this.topic)));
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
        this.sink.resolve(id, createReply(body, applicationHeaders(raw), id));
      },
    });
    await joined;
    if (this.closed) throw closedError('kafka reply reader');
    return this.topic;
  }

  /**
   * Stops reading and deletes the reply topic and its consumer group (if they were ever created),
   * so a closed connection leaves nothing on the broker. Best effort, at most about 5 s: the group
   * can be deleted only once this member has left it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.starting && !this.consumer) return;
    await this.starting?.catch(() => undefined);
    await this.consumer?.disconnect().catch(() => undefined);
    const cleanup = Promise.allSettled([
      this.client.admin.deleteGroups([replyGroupId(this.topic)]),
      this.client.admin.deleteTopics({ topics: [this.topic], timeout: 2000 }),
    ]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([cleanup, new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
  }
}
