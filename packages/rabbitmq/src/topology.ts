import type * as amqp from 'amqplib';
import { SwitchboardError, type Headers } from '@switchboard/core';
import { ChannelSlot } from './channels';
import { SENT_AT } from './codec';
import { classifyError } from './classify-error';
import type { Link } from './link';
import { delayQueueName, groupQueueName, groupRegistryName, offsetQueueName, shardQueueName, streamQueueName } from './names';
import { SHARD_HEADER } from './codec';
import type { QueueType } from './options';

/** The queues of a partitioned queue or topic group: shard i at index i, and the queue for messages without a key. */
export interface ShardQueues {
  readonly shards: readonly string[];
  readonly any: string;
}

/** Where a publish goes: an exchange ('' = default exchange) and a routing key. */
export interface Target {
  exchange: string;
  routingKey: string;
}

/** One declaration on one connection generation; `done` once the broker confirmed it. */
interface Declared {
  readonly gen: number;
  readonly at: number;
  readonly p: Promise<void>;
  done: boolean;
}

/**
 * On-demand, idempotent provisioning. A queue destination is a durable classic queue; a topic is a
 * durable `headers` exchange; each subscription group of a topic is a durable queue `<topic>@<group>`
 * bound with `x-match: all` and the group's header filter (no filter: every message). Declarations
 * are cached per connection generation, so a broker restart re-declares on next use.
 */
export class Topology {
  private readonly slot: ChannelSlot<amqp.Channel>;
  private readonly cache = new Map<string, Declared>();

  constructor(
    private readonly link: Link,
    /** Type of the queues declared for queues and topic groups (and their shards); see {@link workQueueOptions}. */
    readonly queueType: QueueType = 'classic',
  ) {
    this.slot = new ChannelSlot(link, (m) => m.createChannel());
  }

  /** Declaration options of a queue that holds a destination's work (a queue, a group queue, a shard). */
  private work(extra: Record<string, unknown> = {}): amqp.Options.AssertQueue {
    return workQueueOptions(this.queueType, extra);
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
    const entry: Declared = { gen, at: Date.now(), p, done: false };
    this.cache.set(key, entry);
    p.then(
      () => void (entry.done = true),
      () => {
        if (this.cache.get(key) === entry) this.cache.delete(key);
      },
    );
    return p;
  }

  /** `key` was declared on this connection (and not forgotten since): a send needs no declaration first. */
  private isDeclared(key: string): boolean {
    const hit = this.cache.get(key);
    return hit !== undefined && hit.done && hit.gen === this.link.generation;
  }

  /** The queue {@link queue} declares is declared already (what a send's hot path asks, without a promise). */
  queueDeclared(name: string): boolean {
    return this.isDeclared(`q:${name}`);
  }

  /** The topic {@link topic} declares is declared already. */
  topicDeclared(name: string): boolean {
    return this.isDeclared(`x:${name}`);
  }

  /**
   * Declares a queue with `options`; when the queue already exists with other arguments (RabbitMQ
   * answers 406 PRECONDITION_FAILED "inequivalent arg", e.g. a queue made quorum by its operator, or a
   * stream with another `x-max-age` from another connection's options), the existing queue is used
   * as it is (a passive declare). A 406 closes the channel it happened on, so the attempt runs on a
   * channel of its own and never disturbs other declarations on the shared one.
   */
  private async declareQueue(name: string, options: amqp.Options.AssertQueue): Promise<void> {
    try {
      await this.onOwnChannel((ch) => ch.assertQueue(name, options));
    } catch (err) {
      if (!isInequivalentArg(err)) throw err;
      await this.onOwnChannel((ch) => ch.checkQueue(name));
    }
  }

  private async onOwnChannel(op: (ch: amqp.Channel) => Promise<unknown>): Promise<void> {
    const m = await this.link.current();
    const ch = await m.createChannel();
    ch.on('error', () => undefined);
    try {
      await op(ch);
    } finally {
      void ch.close().catch(() => undefined);
    }
  }

  /** Whether a queue exists (a passive declare on a channel of its own, which a 404 closes). Not cached. */
  async exists(name: string): Promise<boolean> {
    try {
      await this.onOwnChannel((ch) => ch.checkQueue(name));
      return true;
    } catch (err) {
      const e = classifyError(err);
      if (e.code === 'not_found') return false;
      throw e;
    }
  }

  /** Whether an exchange exists (a passive declare on a channel of its own). Not cached. */
  async exchangeExists(name: string): Promise<boolean> {
    try {
      await this.onOwnChannel((ch) => ch.checkExchange(name));
      return true;
    } catch (err) {
      const e = classifyError(err);
      if (e.code === 'not_found') return false;
      throw e;
    }
  }

  /** A durable queue (a mailbox or a group queue); an existing one is used whatever its arguments. */
  queue(name: string): Promise<void> {
    return this.once(`q:${name}`, Infinity, () => this.declareQueue(name, this.work()));
  }

  topic(name: string): Promise<void> {
    return this.once(`x:${name}`, Infinity, (ch) => ch.assertExchange(name, 'headers', { durable: true }));
  }

  /** The group's queue, bound to the topic, and recorded in the topic's group registry when new. Returns its name. */
  async group(topic: string, group: string, filter: Headers | undefined): Promise<string> {
    const q = groupQueueName(topic, group);
    await this.topic(topic);
    await this.once(`q:${q}`, Infinity, () => this.declareRecorded(q, this.work(), topic, group));
    const args: Record<string, string> = { 'x-match': 'all', ...(filter ?? {}) };
    await this.once(`b:${q}:${JSON.stringify(args)}`, Infinity, (ch) => ch.bindQueue(q, topic, '', args));
    return q;
  }

  /**
   * The stream that retains a topic for replay, bound to the topic's exchange. Returns its name.
   * The first declaration sets its `x-max-age`; a stream that exists with another retention is used
   * as it is, unless `strict` (an explicit `ensureDestination({ retentionMs })`), which then fails
   * with `configuration` naming both values.
   */
  async stream(topic: string, retentionMs: number, strict = false): Promise<string> {
    const q = streamQueueName(topic);
    const maxAge = `${Math.max(1, Math.ceil(retentionMs / 1000))}s`;
    const options: amqp.Options.AssertQueue = { durable: true, arguments: { 'x-queue-type': 'stream', 'x-max-age': maxAge } };
    await this.topic(topic);
    if (strict) {
      await this.once(`s:${q}:${maxAge}`, Infinity, async () => {
        try {
          await this.onOwnChannel((ch) => ch.assertQueue(q, options));
        } catch (err) {
          if (!isInequivalentArg(err)) throw err;
          throw new SwitchboardError('configuration', `topic "${topic}" already has a stream with another retention than the ${maxAge} asked for (RabbitMQ: ${(err as Error).message}); a policy can change x-max-age of an existing stream`, { cause: err });
        }
      });
    }
    await this.once(`s:${q}`, Infinity, async (ch) => {
      await this.declareQueue(q, options);
      await ch.bindQueue(q, topic, '', STREAM_BINDING);
      // Streams of earlier versions were bound to everything: that binding goes (unbinding one that is not there is a no-op).
      await ch.unbindQueue(q, topic, '', { 'x-match': 'all' });
    });
    return q;
  }

  /**
   * The shard queues of a partitioned queue (`<queue>@@shard.<i>`, each with single active consumer)
   * and its plain queue for messages without a key (`<queue>@@any`). See {@link declareShards}.
   */
  async shardedQueue(name: string, partitions: number): Promise<ShardQueues> {
    const q: ShardQueues = { shards: Array.from({ length: partitions }, (_, i) => shardQueueName(name, i)), any: shardQueueName(name, 'any') };
    await this.once(`p:${name}`, Infinity, () => this.declareShards(`queue "${name}"`, q, shardQueueName(name, partitions)));
    return q;
  }

  /**
   * The shard queues of a partitioned topic group (`<topic>@<group>@@shard.<i>`, single active consumer)
   * and its `@@any` queue, bound to the topic with `x-match: all`, `sb-shard: <i>` (or `any`) and the
   * group's filter. The group is recorded in the topic's registry like an unpartitioned group.
   */
  async shardedGroup(topic: string, group: string, filter: Headers | undefined, partitions: number): Promise<ShardQueues> {
    const base = groupQueueName(topic, group);
    const at = { topic, group };
    const q: ShardQueues = { shards: Array.from({ length: partitions }, (_, i) => shardQueueName(base, i, at)), any: shardQueueName(base, 'any', at) };
    await this.topic(topic);
    await this.once(`p:${base}`, Infinity, async () => {
      if (!(await this.exists(q.any))) await this.record(topic, group);
      await this.declareShards(`group "${group}" of topic "${topic}"`, q, shardQueueName(base, partitions, at));
    });
    const bindings: [string, string][] = [...q.shards.map((name, i): [string, string] => [name, String(i)]), [q.any, 'any']];
    for (const [name, shard] of bindings) {
      const args: Record<string, string> = { 'x-match': 'all', ...(filter ?? {}), [SHARD_HEADER]: shard };
      await this.once(`b:${name}:${JSON.stringify(args)}`, Infinity, (ch) => ch.bindQueue(name, topic, '', args));
    }
    return q;
  }

  /**
   * Declares shard queues with `x-single-active-consumer`, and the `any` queue without. A shard that
   * exists without it (made by something else) is a `configuration` error, as is a shard numbered
   * `beyond` (the first past this connection's count): then the destination is used with more
   * partitions elsewhere, and producers and consumers would disagree on where a key lives.
   */
  private async declareShards(what: string, q: ShardQueues, beyond: string): Promise<void> {
    if (await this.exists(beyond)) {
      throw new SwitchboardError('configuration', `${what} has a shard queue "${beyond}": it is used with more partitions than the ${q.shards.length} of this connection (option partitions); producers and consumers of one destination need the same partitions`);
    }
    for (const name of q.shards) {
      try {
        await this.onOwnChannel((ch) => ch.assertQueue(name, this.work({ 'x-single-active-consumer': true })));
      } catch (err) {
        if (!isInequivalentArg(err)) throw err;
        throw new SwitchboardError('configuration', `shard queue "${name}" of ${what} exists with other arguments (RabbitMQ: ${(err as Error).message}); a shard needs x-single-active-consumer, and queue type ${this.queueType} (option queueType) must match the type it was made with`, { cause: err });
      }
    }
    await this.declareQueue(q.any, this.work());
  }

  /** The one-message queue that holds a replaying group's committed stream offset (recorded in the group registry when new). */
  offsets(topic: string, group: string): Promise<void> {
    const name = offsetQueueName(topic, group);
    return this.once(`o:${name}`, Infinity, () => this.declareRecorded(name, { durable: true, arguments: { 'x-max-length': 1 } }, topic, group));
  }

  /** Declares a per-group queue; when it did not exist before, records the group in the topic's registry first. */
  private async declareRecorded(name: string, options: amqp.Options.AssertQueue, topic: string, group: string): Promise<void> {
    if (!(await this.exists(name))) await this.record(topic, group);
    await this.declareQueue(name, options);
  }

  /** Adds a record of `group` to the topic's registry (confirmed). Concurrent first uses may record a group twice: readers drop repeats. */
  private async record(topic: string, group: string): Promise<void> {
    const registry = groupRegistryName(topic);
    await this.once(`r:${registry}`, Infinity, () => this.declareQueue(registry, { durable: true }));
    const m = await this.link.current();
    const ch = await m.createConfirmChannel();
    ch.on('error', () => undefined);
    try {
      ch.sendToQueue(registry, Buffer.from(group, 'utf8'), { persistent: true });
      await ch.waitForConfirms();
    } catch (err) {
      throw classifyError(err);
    } finally {
      void ch.close().catch(() => undefined);
    }
  }

  /**
   * The groups recorded for a topic (each once, in the order recorded). Records of `drop` are
   * removed. The records are read with `basic.get` and given back when the reading channel closes,
   * so an admin call running at the same moment on another connection may see part of them.
   */
  async groupsOf(topic: string, drop?: string): Promise<string[]> {
    const registry = groupRegistryName(topic);
    if (!(await this.exists(registry))) return [];
    const groups: string[] = [];
    const m = await this.link.current();
    const ch = await m.createChannel();
    ch.on('error', () => undefined);
    try {
      for (;;) {
        const msg = await ch.get(registry, { noAck: false });
        if (msg === false) break;
        const g = msg.content.toString('utf8');
        if (g === drop) ch.ack(msg);
        else if (!groups.includes(g)) groups.push(g);
      }
    } catch (err) {
      throw classifyError(err);
    } finally {
      // Closing the channel requeues every record not acked.
      await ch.close().catch(() => undefined);
    }
    return groups;
  }

  /** Forgets one cached declaration. */
  forgetKey(key: string): void {
    this.cache.delete(key);
  }

  /**
   * A retry queue whose messages all wait `delayMs` (one TTL per queue, so no message waits behind
   * a longer one) and then dead-letter to `target`. It expires when unused; it is re-declared at
   * least every 30 s while in use, so it never expires with messages in it.
   */
  async delay(target: Target, delayMs: number): Promise<string> {
    assertDelay(delayMs);
    const q = delayQueueName(target, delayMs);
    await this.once(`d:${q}`, 30_000, (ch) =>
      ch.assertQueue(q, {
        durable: true,
        arguments: {
          'x-message-ttl': delayMs,
          'x-dead-letter-exchange': target.exchange,
          'x-dead-letter-routing-key': target.routingKey,
          'x-expires': delayMs + DELAY_QUEUE_IDLE_MS,
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

/**
 * The binding of a topic's retention stream: only messages that carry the `sb-ts` header (every
 * Switchboard send) are retained. A void binding value matches the header's presence (RabbitMQ's
 * headers exchange). A foreign publisher's message without `sb-ts` reaches the groups but not the
 * stream, so nothing it may legally send reaches the stream's AMQP 0-9-1 to 1.0 conversion, which
 * on RabbitMQ 3.10 fails on a `decimal` header with 541 INTERNAL_ERROR and closes the publisher's
 * connection before its confirm.
 */
export const STREAM_BINDING: Readonly<Record<string, string | null>> = Object.freeze({ 'x-match': 'all', [SENT_AT]: null });

/**
 * How a queue that holds a destination's work is declared: durable, never exclusive or auto-delete
 * (quorum queues refuse both, and the adapter uses neither), with `x-queue-type: quorum` for quorum
 * queues and no type argument for classic ones (so queues made before the option are still equivalent).
 * No `x-delivery-limit` (nor `x-max-priority`, which quorum queues refuse): retries are republished
 * copies counted by `sb-attempt`, and `maxAttempts` and `deadLetter` are each member's own, so no queue
 * argument can carry them (see the README, "Queue types").
 */
export function workQueueOptions(queueType: QueueType, extra: Record<string, unknown> = {}): amqp.Options.AssertQueue {
  const args = queueType === 'quorum' ? { 'x-queue-type': 'quorum', ...extra } : extra;
  return Object.keys(args).length === 0 ? { durable: true } : { durable: true, arguments: args };
}

/** RabbitMQ's answer to a declaration whose arguments differ from the existing object's. */
export function isInequivalentArg(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /PRECONDITION[-_]FAILED/.test(message) && /inequivalent arg/i.test(message);
}

/** How long a delay queue outlives its TTL unused before RabbitMQ removes it (`x-expires` = delay + this). */
export const DELAY_QUEUE_IDLE_MS = 120_000;
/** RabbitMQ refuses `x-expires` and `x-message-ttl` over 315360000000 ms (ten years) with 406 "value_too_large". */
export const RABBIT_MAX_TTL_MS = 315_360_000_000;
/** The longest delay (send `delayMs`, `nack({ delayMs })`) a delay queue can hold. */
export const MAX_DELAY_MS = RABBIT_MAX_TTL_MS - DELAY_QUEUE_IDLE_MS;

/** Throws `invalid_argument`, before a delay queue is declared, for a delay RabbitMQ would refuse (a 406 that also closes the channel). */
export function assertDelay(delayMs: number, index?: number): void {
  if (delayMs > MAX_DELAY_MS) {
    throw new SwitchboardError('invalid_argument', `${index === undefined ? '' : `message ${index}: `}delayMs ${delayMs} is over the longest delay RabbitMQ holds here (${MAX_DELAY_MS} ms, about ten years: its TTL limit less the delay queue's idle time)`, {
      details: { delayMs, limitMs: MAX_DELAY_MS, ...(index === undefined ? {} : { index }) },
    });
  }
}
