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
/** How long after kafkajs gave up on the reply reader a new one starts. */
export const REPLY_RESTART_DELAY_MS = 1000;

export class ReplyReader {
  private consumer: KafkaConsumer | undefined;
  private starting: Promise<string> | undefined;
  private closed = false;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Whether a start was ever asked for: then close deletes the topic and the group. */
  private started = false;

  constructor(
    private readonly client: KafkaClient,
    readonly topic: string,
    private readonly sink: ReplySink,
  ) {}

  /** Starts reading (once); resolves with the reply topic once this reader has joined its group. */
  ready(): Promise<string> {
    if (this.closed) return Promise.reject(closedError('kafka reply reader'));
    if (this.starting) return this.starting;
    this.started = true;
    const p: Promise<string> = this.start().catch((err: unknown) => {
      if (this.starting === p) this.starting = undefined;
      throw classifyError(err);
    });
    this.starting = p;
    return p;
  }

  private async start(): Promise<string> {
    await this.client.topics.ensure([this.topic], { partitions: 1 });
    const consumer = this.client.consumerKafka.consumer(consumerConfig(this.client.options, replyGroupId(this.topic)));
    this.consumer = consumer;
    let failJoin: ((err: unknown) => void) | undefined;
    const joined = new Promise<void>((resolve, reject) => {
      failJoin = reject;
      const off = consumer.on(consumer.events.GROUP_JOIN, () => {
        off();
        failJoin = undefined;
        resolve();
      });
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (e.payload.restart) return;
      // Before the first join, this start fails; either way a new reader starts (restartAfterCrash).
      failJoin?.(e.payload.error);
      this.restartAfterCrash(consumer);
    });
    joined.catch(() => undefined);
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
   * kafkajs gives up on a consumer after errors it deems fatal, some of which a broker restart
   * causes ("Failed to find group coordinator", "No broker available"). A reader left that way
   * would never read a reply again, and every later request of the connection would time out. So a
   * new reader starts shortly after; it reads the reply topic from its start (nothing is
   * committed), so replies written meanwhile still reach the requests waiting for them. When that
   * start fails, the next request starts the reader again.
   */
  private restartAfterCrash(crashed: KafkaConsumer): void {
    if (this.closed || this.consumer !== crashed) return;
    this.consumer = undefined;
    this.starting = undefined;
    void crashed.disconnect().catch(() => undefined);
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.closed && !this.starting) this.ready().catch(() => undefined);
    }, REPLY_RESTART_DELAY_MS);
    this.restartTimer.unref();
  }

  /**
   * Stops reading and deletes the reply topic and its consumer group (if they were ever created),
   * so a closed connection leaves nothing on the broker. Best effort, at most about 5 s: the group
   * can be deleted only once this member has left it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.restartTimer);
    if (!this.started) return;
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
