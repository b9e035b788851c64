import type { Admin as KafkaAdmin, ITopicConfig } from 'kafkajs';
import { SwitchboardError } from '@switchboard/core';
import { classifyError } from './classify-error';
import { collisionForm, describeTopic } from './naming';
import { retrying } from './retrying';

/**
 * Creates topics on demand (idempotent) and remembers their partition counts. Concurrent calls for
 * one topic share one creation. A topic Kafka refuses because it collides with an existing one
 * (equal once "." is read as "_", Kafka's own rule) fails with `invalid_argument` naming both,
 * before anything is sent to it.
 */
export class Topics {
  private readonly known = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<number>>();

  constructor(
    private readonly admin: KafkaAdmin,
    private readonly defaults: { partitions: number; replicationFactor: number | undefined; minInsyncReplicas?: number | undefined; timeoutMs: number },
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
    };
    const entries = [
      ...(options.retentionMs ? [{ name: 'retention.ms', value: String(options.retentionMs) }] : []),
      ...(this.defaults.minInsyncReplicas ? [{ name: 'min.insync.replicas', value: String(this.defaults.minInsyncReplicas) }] : []),
    ];
    if (entries.length > 0) config.configEntries = entries;
    try {
      await this.admin.createTopics({ topics: [config], waitForLeaders: true, timeout: this.defaults.timeoutMs });
    } catch (err) {
      // TOPIC_ALREADY_EXISTS arrives as an aggregate of per-topic errors when it races another creator.
      const e = err as { type?: string; errors?: { type?: string }[] };
      const types = [e.type, ...(Array.isArray(e.errors) ? e.errors.map((x) => x.type) : [])];
      const exists = e.type === 'TOPIC_ALREADY_EXISTS' || (Array.isArray(e.errors) && e.errors.every((x) => x.type === 'TOPIC_ALREADY_EXISTS'));
      if (types.includes('INVALID_TOPIC_EXCEPTION')) throw await this.collision(topic, err);
      if (types.includes('INVALID_REPLICATION_FACTOR')) {
        // Also what a broker answers while it is still fenced right after a start ("only 0
        // broker(s) are registered"): tried again (by retrying()) for a while before it counts.
        const c = classifyError(err);
        throw new SwitchboardError(c.code, c.message, { cause: err, retryable: true });
      }
      if (!exists) throw classifyError(err);
    }
    const partitions = await this.describe(topic);
    this.known.set(topic, partitions);
    return partitions;
  }

  /** The error for a topic Kafka refused as invalid: the existing topic it collides with, when there is one. */
  private async collision(topic: string, err: unknown): Promise<SwitchboardError> {
    let other: string | undefined;
    try {
      other = (await this.admin.listTopics()).find((t) => t !== topic && collisionForm(t) === collisionForm(topic));
    } catch {
      // the broker's own message below
    }
    if (other === undefined) return classifyError(err);
    return new SwitchboardError(
      'invalid_argument',
      `kafka: ${describeTopic(topic)} cannot have a Kafka topic of its own: Kafka treats "." and "_" in topic names as the same character, and ${describeTopic(other)} already exists; use a name that differs in more than "." vs "_"`,
      { cause: err, details: { topic, collidesWith: other } },
    );
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
