import type * as amqp from 'amqplib';
import type { Headers } from '@switchboard/core';
import { ChannelSlot } from './channels';
import { classifyError } from './classify-error';
import type { Link } from './link';
import { delayQueueName, groupQueueName, streamQueueName } from './names';

/** Where a publish goes: an exchange ('' = default exchange) and a routing key. */
export interface Target {
  exchange: string;
  routingKey: string;
}

/**
 * On-demand, idempotent provisioning. A queue destination is a durable classic queue; a topic is a
 * durable `headers` exchange; each subscription group of a topic is a durable queue `<topic>@<group>`
 * bound with `x-match: all` and the group's header filter (no filter: every message). Declarations
 * are cached per connection generation, so a broker restart re-declares on next use.
 */
export class Topology {
  private readonly slot: ChannelSlot<amqp.Channel>;
  private readonly cache = new Map<string, { gen: number; at: number; p: Promise<void> }>();

  constructor(private readonly link: Link) {
    this.slot = new ChannelSlot(link, (m) => m.createChannel());
  }

  private once(key: string, maxAgeMs: number, run: (ch: amqp.Channel) => Promise<unknown>): Promise<void> {
    const hit = this.cache.get(key);
    const gen = this.link.generation;
    if (hit && hit.gen === gen && Date.now() - hit.at < maxAgeMs) return hit.p;
    const p = (async () => {
      const ch = await this.slot.get();
      try {
        await run(ch);
      } catch (err) {
        throw classifyError(err);
      }
    })();
    const entry = { gen, at: Date.now(), p };
    this.cache.set(key, entry);
    p.catch(() => {
      if (this.cache.get(key) === entry) this.cache.delete(key);
    });
    return p;
  }

  queue(name: string): Promise<void> {
    return this.once(`q:${name}`, Infinity, (ch) => ch.assertQueue(name, { durable: true }));
  }

  topic(name: string): Promise<void> {
    return this.once(`x:${name}`, Infinity, (ch) => ch.assertExchange(name, 'headers', { durable: true }));
  }

  /** The group's queue, bound to the topic. Returns its name. */
  async group(topic: string, group: string, filter: Headers | undefined): Promise<string> {
    const q = groupQueueName(topic, group);
    await this.topic(topic);
    await this.queue(q);
    const args: Record<string, string> = { 'x-match': 'all', ...(filter ?? {}) };
    await this.once(`b:${q}:${JSON.stringify(args)}`, Infinity, (ch) => ch.bindQueue(q, topic, '', args));
    return q;
  }

  /** The stream that retains a topic for replay, bound to the topic's exchange. Returns its name. */
  async stream(topic: string, retentionMs: number): Promise<string> {
    const q = streamQueueName(topic);
    await this.topic(topic);
    await this.once(`s:${q}`, Infinity, async (ch) => {
      await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'stream', 'x-max-age': `${Math.max(1, Math.ceil(retentionMs / 1000))}s` } });
      await ch.bindQueue(q, topic, '', { 'x-match': 'all' });
    });
    return q;
  }

  /**
   * A retry queue whose messages all wait `delayMs` (one TTL per queue, so no message waits behind
   * a longer one) and then dead-letter to `target`. It expires when unused; it is re-declared at
   * least every 30 s while in use, so it never expires with messages in it.
   */
  async delay(target: Target, delayMs: number): Promise<string> {
    const q = delayQueueName(target, delayMs);
    await this.once(`d:${q}`, 30_000, (ch) =>
      ch.assertQueue(q, {
        durable: true,
        arguments: {
          'x-message-ttl': delayMs,
          'x-dead-letter-exchange': target.exchange,
          'x-dead-letter-routing-key': target.routingKey,
          'x-expires': delayMs + 120_000,
        },
      }),
    );
    return q;
  }

  /** Runs an admin operation on the topology channel, classifying errors. */
  async run<T>(op: (ch: amqp.Channel) => Promise<T>): Promise<T> {
    const ch = await this.slot.get();
    try {
      return await op(ch);
    } catch (err) {
      throw classifyError(err);
    }
  }

  forget(prefix: string): void {
    for (const k of [...this.cache.keys()]) if (k.startsWith(prefix)) this.cache.delete(k);
  }
}
