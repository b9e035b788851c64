import type { Message, Producer as KafkaProducer } from 'kafkajs';
import { SwitchboardError } from '@switchboard/core';
import type { NamedOutcome } from '@switchboard/core/driver';
import { classifyError } from './classify-error';
import { formatRef } from './naming';
import { foreignId, type EncodedRecord } from './records';

/** What one message of a push ends with: its `<partition>:<offset>`, with its name where the broker named it, or its error. */
export type SendResult = string | NamedOutcome | Error;

/** The messages of one push: settled together once each has its result. */
interface Group {
  readonly results: SendResult[];
  left: number;
  readonly resolve: (results: readonly SendResult[]) => void;
}

interface Item {
  topic: string;
  partition: number;
  message: Message;
  size: number;
  /** The timestamp a message the broker names was sent with (see {@link EncodedRecord.stamp}). */
  stamp: string | undefined;
  group: Group;
  index: number;
}

/**
 * Errors after which an idempotent producer's sequence numbers no longer match the broker's: the
 * broker refuses every later batch of that producer id on the partition. Seen after a broker
 * restart: kafkajs takes back the sequence numbers of a request that failed (connection closed,
 * or one partition's error in a multi-partition request) even when the broker had appended it.
 */
const DESYNC_TYPES = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH']);

/** Whether `err` (or an error it wraps) is one of {@link DESYNC_TYPES}. */
export function isSequenceDesync(err: unknown): boolean {
  for (let e = err as { type?: string; cause?: unknown; originalError?: unknown } | undefined, i = 0; e && typeof e === 'object' && i < 5; i++) {
    if (e.type && DESYNC_TYPES.has(e.type)) return true;
    e = (e.cause ?? e.originalError) as typeof e;
  }
  return false;
}

/**
 * Coalesces the sends of one event-loop turn into one `sendBatch` (one produce request per broker),
 * keeping their order, and maps the per-partition base offsets back to one `<partition>:<offset>`
 * per message. Batches are cut at `maxBatchBytes` so no partition's record batch can exceed the
 * broker's max.message.bytes. One batch is in flight at a time (the idempotent producer's rule).
 * When the broker refuses a batch because the producer's sequence numbers went out of step
 * ({@link isSequenceDesync}: the broker appended nothing of it), `renew` replaces the producer (a
 * new producer id starts its sequences afresh) and the batch is sent once more; without that, every
 * later send to the partition would fail the same way. After any other failed batch the next one
 * goes through a new producer too (see `renewFirst`).
 */
/** How many times messages of a partition a `sendBatch` result leaves out are sent again before they fail. */
export const MISSING_RESENDS = 2;

/** "topic t partitions 0, 2" for an error message. */
function describePartitions(items: readonly Item[]): string {
  const by = new Map<string, Set<number>>();
  for (const it of items) by.set(it.topic, (by.get(it.topic) ?? new Set()).add(it.partition));
  return [...by].map(([t, ps]) => `topic ${t} partition${ps.size > 1 ? 's' : ''} ${[...ps].join(', ')}`).join('; ');
}

export class SendQueue {
  private readonly queue: Item[] = [];
  private draining: Promise<void> | undefined;
  private scheduled = false;
  /**
   * Set when a `sendBatch` failed: the next batch goes through a new producer first. kafkajs takes
   * back the sequence numbers of a failed request, yet the broker may have appended it (the
   * connection closed before the answer came). The next batch would then carry the same sequence
   * numbers, and the broker takes a batch with the sequence numbers of one it has for a duplicate:
   * it answers with the old batch's offset and stores nothing. Seen in CI as one confirmed message
   * missing after a broker restart. A new producer id starts its sequences afresh.
   */
  private renewFirst = false;

  constructor(
    private producer: KafkaProducer,
    private readonly maxBatchBytes: number,
    private readonly maxBatchMessages = 5000,
    private readonly renew?: (old: KafkaProducer) => Promise<KafkaProducer>,
  ) {}

  /** The producer batches go through now (replaced after a sequence desync). */
  get current(): KafkaProducer {
    return this.producer;
  }

  get size(): number {
    return this.queue.length;
  }

  /**
   * Queues messages for one topic. One promise for all of them (not one per message), resolving
   * once every message was sent or failed: with its `<partition>:<offset>`, or its classified error,
   * at its index (messages of one push may go in different requests, so some may fail alone).
   */
  push(topic: string, messages: readonly EncodedRecord[]): Promise<readonly SendResult[]> {
    const p = new Promise<readonly SendResult[]>((resolve) => {
      const group: Group = { results: new Array<SendResult>(messages.length), left: messages.length, resolve };
      for (let i = 0; i < messages.length; i++) {
        const m = messages[i]!;
        const message = m.message.partition === m.partition ? m.message : { ...m.message, partition: m.partition };
        this.queue.push({ topic, partition: m.partition, message, size: m.size, stamp: m.stamp, group, index: i });
      }
      if (messages.length === 0) resolve(group.results);
    });
    this.schedule();
    return p;
  }

  private static settle(it: Item, result: SendResult): void {
    const g = it.group;
    g.results[it.index] = result;
    if (--g.left === 0) g.resolve(g.results);
  }

  /** Resolves once everything queued so far was sent (or failed). */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.draining || this.scheduled) {
      if (this.draining) await this.draining;
      else await new Promise((r) => setImmediate(r));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.draining) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.draining = this.drain().finally(() => {
        this.draining = undefined;
        if (this.queue.length) this.schedule();
      });
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      let bytes = 0;
      let n = 0;
      while (n < this.queue.length && n < this.maxBatchMessages) {
        const s = this.queue[n]!.size + 64;
        if (n > 0 && bytes + s > this.maxBatchBytes) break;
        bytes += s;
        n++;
      }
      const chunk = this.queue.splice(0, n);
      // A partition the result leaves out was not written: kafkajs 2.2.4 retries a batch only on the
      // brokers that gave no answer, so a partition whose leader moved to a broker that already
      // answered for another partition is dropped from the result. Send those again; never confirm them.
      let pending = chunk;
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > MISSING_RESENDS) {
          const e = new SwitchboardError('connection', `Kafka: no answer for ${describePartitions(pending)} after ${MISSING_RESENDS + 1} sends (a leader change); the message was not confirmed`, { retryable: true });
          for (const it of pending) SendQueue.settle(it, e);
          break;
        }
        pending = await this.sendOnce(pending);
      }
    }
  }

  /** Sends `chunk` as one sendBatch and settles what the result covers; returns the items of partitions it left out. */
  private async sendOnce(chunk: Item[]): Promise<Item[]> {
    // Per topic: its messages, and per partition the base offset, how many were counted, and the
    // broker's append time where the topic stamps records itself (LogAppendTime; else "-1").
    const byTopic = new Map<string, { messages: Message[]; base: number[]; next: number[]; appended: (string | undefined)[] }>();
    for (const it of chunk) {
      let t = byTopic.get(it.topic);
      if (!t) byTopic.set(it.topic, (t = { messages: [], base: [], next: [], appended: [] }));
      t.messages.push(it.message);
    }
    const missing: Item[] = [];
    try {
      if (this.renewFirst && this.renew) {
        this.producer = await this.renew(this.producer);
        this.renewFirst = false;
      }
      const topicMessages = [...byTopic].map(([topic, { messages }]) => ({ topic, messages }));
      let meta;
      try {
        meta = await this.producer.sendBatch({ topicMessages, acks: -1 });
      } catch (err) {
        if (!this.renew || !isSequenceDesync(err)) throw err;
        this.producer = await this.renew(this.producer);
        meta = await this.producer.sendBatch({ topicMessages, acks: -1 });
      }
      for (const m of meta) {
        const t = byTopic.get(m.topicName);
        if (t) {
          t.base[m.partition] = Number(m.baseOffset);
          t.appended[m.partition] = m.logAppendTime;
        }
      }
      for (const it of chunk) {
        const t = byTopic.get(it.topic)!;
        const b = t.base[it.partition];
        if (b === undefined) {
          missing.push(it);
          continue;
        }
        const i = t.next[it.partition] ?? 0;
        t.next[it.partition] = i + 1;
        if (!Number.isFinite(b)) {
          // A message the broker names has no id without its offset.
          SendQueue.settle(it, it.stamp === undefined ? formatRef(it.partition, 'unknown') : new SwitchboardError('internal', `Kafka confirmed a message to ${describePartitions([it])} without its offset, so its id is not known`));
        } else if (it.stamp === undefined) SendQueue.settle(it, formatRef(it.partition, b + i));
        else {
          // A record of a LogAppendTime topic carries the broker's time, which its deliveries read.
          const appended = t.appended[it.partition];
          const ts = appended !== undefined && appended !== '-1' ? appended : it.stamp;
          SendQueue.settle(it, { ref: formatRef(it.partition, b + i), id: foreignId(it.topic, it.partition, b + i, ts) });
        }
      }
    } catch (err) {
      // Whether the broker appended the batch is unknown (see renewFirst).
      this.renewFirst = true;
      const e = classifyError(err);
      for (const it of chunk) SendQueue.settle(it, e);
      return [];
    }
    return missing;
  }
}
