import type { Message, Producer as KafkaProducer } from 'kafkajs';
import { classifyError } from './classify-error';
import { formatRef } from './naming';

interface Item {
  topic: string;
  partition: number;
  message: Message;
  size: number;
  resolve: (ref: string) => void;
  reject: (err: unknown) => void;
}

/**
 * Coalesces the sends of one event-loop turn into one `sendBatch` (one produce request per broker),
 * keeping their order, and maps the per-partition base offsets back to one `<partition>:<offset>`
 * per message. Batches are cut at `maxBatchBytes` so no partition's record batch can exceed the
 * broker's max.message.bytes. One batch is in flight at a time (the idempotent producer's rule).
 */
export class SendQueue {
  private readonly queue: Item[] = [];
  private draining: Promise<void> | undefined;
  private scheduled = false;

  constructor(
    private readonly producer: KafkaProducer,
    private readonly maxBatchBytes: number,
    private readonly maxBatchMessages = 5000,
  ) {}

  get size(): number {
    return this.queue.length;
  }

  /** Queues messages for one topic; each promise resolves with its `<partition>:<offset>`. */
  push(topic: string, messages: readonly { partition: number; message: Message; size: number }[]): Promise<string>[] {
    const out = messages.map(
      (m) =>
        new Promise<string>((resolve, reject) => {
          this.queue.push({ topic, partition: m.partition, message: m.message, size: m.size, resolve, reject });
        }),
    );
    this.schedule();
    return out;
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
      const byTopic = new Map<string, Message[]>();
      for (const it of chunk) {
        let list = byTopic.get(it.topic);
        if (!list) byTopic.set(it.topic, (list = []));
        list.push({ ...it.message, partition: it.partition });
      }
      try {
        const meta = await this.producer.sendBatch({
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
          acks: -1,
        });
        const base = new Map<string, number>();
        for (const m of meta) base.set(`${m.topicName}\u0000${m.partition}`, Number(m.baseOffset));
        const seen = new Map<string, number>();
        for (const it of chunk) {
          const k = `${it.topic}\u0000${it.partition}`;
          const i = seen.get(k) ?? 0;
          seen.set(k, i + 1);
          const b = base.get(k);
          it.resolve(b === undefined || !Number.isFinite(b) ? formatRef(it.partition, 'unknown') : formatRef(it.partition, b + i));
        }
      } catch (err) {
        const e = classifyError(err);
        for (const it of chunk) it.reject(e);
      }
    }
  }
}
