import type { Admin as KafkaAdmin, ITopicConfig } from 'kafkajs';
import { classifyError } from './classify-error';
import { retrying } from './retrying';

/**
 * Creates topics on demand (idempotent) and remembers their partition counts. Concurrent calls for
 * one topic share one creation.
 */
export class Topics {
  private readonly known = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<number>>();

  constructor(
    private readonly admin: KafkaAdmin,
    private readonly defaults: { partitions: number; replicationFactor: number | undefined; timeoutMs: number },
  ) {}

  partitionsOf(topic: string): number | undefined {
    return this.known.get(topic);
  }

  forget(topic: string): void {
    this.known.delete(topic);
  }

  /** Ensures every topic exists; resolves with their partition counts. */
  async ensure(topics: readonly string[], options: { partitions?: number; retentionMs?: number } = {}): Promise<number[]> {
    return Promise.all(topics.map((t) => this.ensureOne(t, options)));
  }

  private ensureOne(topic: string, options: { partitions?: number; retentionMs?: number }): Promise<number> {
    const n = this.known.get(topic);
    if (n !== undefined) return Promise.resolve(n);
    let p = this.inFlight.get(topic);
    if (!p) {
      p = retrying(() => this.create(topic, options)).finally(() => this.inFlight.delete(topic));
      this.inFlight.set(topic, p);
    }
    return p;
  }

  private async create(topic: string, options: { partitions?: number; retentionMs?: number }): Promise<number> {
    const config: ITopicConfig = {
      topic,
      numPartitions: options.partitions ?? this.defaults.partitions,
      ...(this.defaults.replicationFactor ? { replicationFactor: this.defaults.replicationFactor } : {}),
      ...(options.retentionMs ? { configEntries: [{ name: 'retention.ms', value: String(options.retentionMs) }] } : {}),
    };
    try {
      await this.admin.createTopics({ topics: [config], waitForLeaders: true, timeout: this.defaults.timeoutMs });
    } catch (err) {
      // TOPIC_ALREADY_EXISTS arrives as an aggregate of per-topic errors when it races another creator.
      const e = err as { type?: string; errors?: { type?: string }[] };
      const exists = e.type === 'TOPIC_ALREADY_EXISTS' || (Array.isArray(e.errors) && e.errors.every((x) => x.type === 'TOPIC_ALREADY_EXISTS'));
      if (!exists) throw classifyError(err);
    }
    const partitions = await this.describe(topic);
    this.known.set(topic, partitions);
    return partitions;
  }

  private async describe(topic: string): Promise<number> {
    for (let i = 0; ; i++) {
      try {
        const md = await this.admin.fetchTopicMetadata({ topics: [topic] });
        const t = md.topics.find((x) => x.name === topic);
        const parts = t?.partitions ?? [];
        if (parts.length > 0 && parts.every((p) => p.leader >= 0)) return parts.length;
      } catch (err) {
        if (i >= 20) throw classifyError(err);
      }
      if (i >= 20) return (await this.admin.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions.length ?? 1;
      await new Promise((r) => setTimeout(r, 50 + i * 25));
    }
  }
}
