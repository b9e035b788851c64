import type * as amqp from 'amqplib';
import { requireCapability, SwitchboardError, type ParsedUrl } from '@switchboard/core';
import { createReply, type ConsumerDriver, type DriverHost, type DriverSession, type NormalizedMessage, type ResolvedConsumerOptions } from '@switchboard/core/driver';
import type { BrokerObject, Destination } from '@switchboard/core';
import { rabbitCapabilitiesFor } from './capabilities';
import { ChannelSlot, Publisher } from './channels';
import { classifyError } from './classify-error';
import { AMQPLIB_TABLE_BUFFER, assertSendable, decodeMessage, encodedTableSize, fitHeaders, publishOptions, SHORTSTR_MAX, type PublishExtra } from './codec';
import { QueueConsumer } from './consumer';
import { Link } from './link';
import { assertRabbitName, groupQueueName, groupRegistryName, offsetQueueName, shardQueueName, streamQueueName } from './names';
import { ShardRouter, type ShardNo } from './partitions';
import { ShardedConsumer } from './sharded-consumer';
import { resolveRabbitOptions, type RabbitMQOptions, type ResolvedRabbitMQOptions } from './options';
import { StreamConsumer, streamStart } from './stream-consumer';
import { assertDelay, MAX_DELAY_MS, Topology, type ShardQueues, type Target } from './topology';

const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

/** A publish target; `shard` is set for a partitioned topic (sent as the `sb-shard` header). */
export type ShardTarget = Target & { shard?: ShardNo };

/** What the consumers of a session share with it. */
export interface RabbitContext {
  readonly link: Link;
  readonly options: ResolvedRabbitMQOptions;
  readonly topology: Topology;
  /** Publishes with a confirm; resolves the broker reference. */
  publish(target: Target, content: Buffer, options: amqp.Options.Publish): Promise<string | undefined>;
  /**
   * Resolves (and provisions) where a message with `key` for a destination goes. With `partitions`, a
   * queue's target is the key's shard queue, and a topic's carries the shard for the `sb-shard` header.
   */
  targetOf(d: Destination, key?: string): Promise<ShardTarget>;
}

/**
 * Opens the broker half of a RabbitMQ connection: one AMQP connection (reconnected by the
 * adapter), a confirm channel for publishing, a channel for topology, one for direct reply-to
 * (requests are published on it, since RabbitMQ returns replies only to the channel that consumes
 * `amq.rabbitmq.reply-to`), and one channel per consumer. Core builds the public Connection on it.
 */
export async function openRabbitSession(url: ParsedUrl, raw: RabbitMQOptions, host: DriverHost): Promise<DriverSession> {
  const { endpoints, options } = resolveRabbitOptions(url, raw);
  const link = new Link(endpoints, options, url.redacted, host);
  const topology = new Topology(link, options.queueType);
  const publisher = new Publisher(link);
  const capabilities = rabbitCapabilitiesFor(options);
  const partitions = options.partitions;
  const router = partitions === undefined ? undefined : new ShardRouter(partitions);

  /** Declares a destination (a partitioned queue: its shard queues) and returns how to reach it per shard. */
  const provision = async (d: Destination): Promise<(shard: ShardNo | undefined) => ShardTarget> => {
    if (d.kind === 'queue') {
      if (partitions === undefined) {
        await topology.queue(d.name);
        return () => plainTarget(d);
      }
      const q = await topology.shardedQueue(d.name, partitions);
      return (shard) => ({ exchange: '', routingKey: shard === 'any' || shard === undefined ? q.any : q.shards[shard]! });
    }
    if (options.streams) await topology.stream(d.name, options.streamRetentionMs);
    else await topology.topic(d.name);
    return (shard) => (shard === undefined ? plainTarget(d) : { ...plainTarget(d), shard });
  };
  const targetOf = async (d: Destination, key?: string): Promise<ShardTarget> => (await provision(d))(router?.shardOf(key));
  /** Messages of sends on the general path that were not handed to the publisher yet. */
  let preparing = 0;
  /**
   * Where a batch goes when nothing has to be declared or computed per message first (one queue or
   * topic, declared already, no shards, no delays): the send's hot path, with no promise before the
   * publish. Undefined otherwise: the batch takes the general path.
   */
  const declaredTarget = (d: Destination, messages: readonly NormalizedMessage[]): Target | undefined => {
    // A batch still on the general path goes first: sends keep their order.
    if (partitions !== undefined || preparing > 0) return undefined;
    if (d.kind === 'queue' ? !topology.queueDeclared(d.name) : options.streams || !topology.topicDeclared(d.name)) return undefined;
    for (const m of messages) if (m.delayMs !== undefined && m.delayMs > 0) return undefined;
    return plainTarget(d);
  };
  const ctx: RabbitContext = {
    link,
    options,
    topology,
    targetOf,
    publish: (t, content, o) => publisher.publish(t.exchange, t.routingKey, content, fitHeaders(o, link.frameMax), true),
  };

  // Replies come back only to the channel that sent the request, and every request of this
  // connection goes out on that one channel: when it dies (or the connection does) they fail at once.
  const repliesLost = () => host.replies.rejectAll(new SwitchboardError('connection', 'the RabbitMQ channel of this request was lost before the reply arrived'));
  const onReply = (msg: amqp.ConsumeMessage | null) => {
    if (!msg) return;
    const dec = decodeMessage(msg, '');
    if (!dec.correlationId) return;
    host.replies.resolve(dec.correlationId, createReply(dec.body, dec.headers, dec.correlationId));
  };
  const replySlot = new ChannelSlot(
    link,
    (m) => m.createChannel(),
    async (ch) => {
      await ch.consume(DIRECT_REPLY_TO, onReply, { noAck: true });
    },
    repliesLost,
  );
  link.add({ lost: repliesLost, recover: async () => undefined });

  /** The shard queues of a queue or group queue `base` on this connection (none when unpartitioned). */
  const shardsOf = (base: string, group?: { topic: string; group: string }): string[] =>
    partitions === undefined ? [] : [...Array.from({ length: partitions }, (_, i) => shardQueueName(base, i, group)), shardQueueName(base, 'any', group)];

  /** Deletes a topic group's queue and committed-offset queue (idempotent) and forgets their declarations. */
  const removeGroup = async (topic: string, group: string): Promise<void> => {
    const q = groupQueueName(topic, group);
    const offsets = offsetQueueName(topic, group);
    await topology.run((ch) => ch.deleteQueue(q));
    await topology.run((ch) => ch.deleteQueue(offsets));
    for (const shard of shardsOf(q, { topic, group })) {
      await topology.run((ch) => ch.deleteQueue(shard));
      topology.forget(`b:${shard}:`);
    }
    topology.forgetKey(`p:${q}`);
    topology.forgetKey(`q:${q}`);
    topology.forgetKey(`o:${offsets}`);
    topology.forget(`b:${q}:`);
  };

  await link.start(host.connectTimeoutMs, host.signal);

  return {
    url: url.redacted,
    capabilities,
    maxMessageBytes: options.maxMessageBytes,
    limitName: 'RabbitMQ (max_message_size)',
    maxDelayMs: MAX_DELAY_MS,
    checkDestination: assertRabbitName,
    classifyError,

    /** Header names and the encoded headers table, as amqplib and frame_max take them, and the delay: nothing of a batch goes out unless all fit. */
    checkMessages(dest, messages) {
      const stamp = dest.kind === 'topic';
      const sharded = stamp && partitions !== undefined;
      messages.forEach((m, i) => {
        assertSendable(m, i, link.frameMax, stamp, sharded);
        if (m.delayMs !== undefined) assertDelay(m.delayMs, i);
      });
    },

    publish(dest, messages, { confirm, signal }) {
      const direct = declaredTarget(dest, messages);
      if (direct) {
        const extra = dest.kind === 'topic' ? STAMPED : UNSTAMPED;
        const n = messages.length;
        const contents = new Array<Buffer>(n);
        const props = new Array<amqp.Options.Publish>(n);
        for (let i = 0; i < n; i++) {
          contents[i] = content(messages[i]!);
          props[i] = publishOptions(messages[i]!, extra);
        }
        return publisher.publishAll(direct.exchange, direct.routingKey, contents, props, confirm, signal);
      }
      const reach = provision(dest);
      reach.catch(() => undefined);
      // Only a topic's stream needs sb-ts (it retains what carries it): see publishOptions.
      const stamp = dest.kind === 'topic';
      const shards = messages.map((m) => router?.shardOf(m.key));
      preparing += messages.length;
      return messages.map(async (m, i) => {
        let to: Target;
        let extra: PublishExtra;
        try {
          const target = (await reach)(shards[i]);
          extra = target.shard === undefined ? { stamp } : { stamp, shard: target.shard };
          to = m.delayMs !== undefined && m.delayMs > 0 ? { exchange: '', routingKey: await topology.delay(target, m.delayMs) } : target;
        } finally {
          preparing--;
        }
        return publisher.publish(to.exchange, to.routingKey, content(m), publishOptions(m, extra), confirm, signal);
      });
    },

    async request(dest, m, meta) {
      const started = Date.now();
      const target = await targetOf(dest, m.key);
      const ch = await replySlot.get(meta.timeoutMs, meta.signal);
      const left = Math.max(1, meta.timeoutMs - (Date.now() - started));
      const extra = { replyTo: DIRECT_REPLY_TO, correlationId: meta.correlationId, expiration: Math.ceil(left), stamp: dest.kind === 'topic' };
      ch.publish(target.exchange, target.routingKey, content(m), publishOptions(m, target.shard === undefined ? extra : { ...extra, shard: target.shard }));
    },

    async reply(replyTo, correlationId, m) {
      assertSendable(m, 0, link.frameMax, false);
      await publisher.publish('', replyTo, content(m), publishOptions(m, correlationId === undefined ? { stamp: false } : { correlationId, stamp: false }), true);
    },

    async consumer(source, o: ResolvedConsumerOptions): Promise<ConsumerDriver<unknown>> {
      if (o.filter && Object.keys(o.filter).length > 0) {
        if (source.kind === 'queue') throw new SwitchboardError('invalid_argument', 'a header filter applies to topic subscriptions; a queue delivers everything it holds');
        for (const k of Object.keys(o.filter)) {
          if (k.startsWith('x-')) throw new SwitchboardError('invalid_argument', `filter header "${k}": RabbitMQ's headers exchange ignores headers starting with "x-"`);
          if (Buffer.byteLength(k, 'utf8') > SHORTSTR_MAX) throw new SwitchboardError('invalid_argument', `filter header "${k.slice(0, 40)}…": header names are AMQP short strings of at most ${SHORTSTR_MAX} bytes, so no message can carry it`);
        }
        // The binding's arguments are a field table amqplib encodes into its 64 KiB buffer.
        const size = encodedTableSize({ 'x-match': 'all', ...o.filter });
        if (size > AMQPLIB_TABLE_BUFFER) throw new SwitchboardError('invalid_argument', `the filter encodes to ${size} bytes; a RabbitMQ binding's arguments take at most ${AMQPLIB_TABLE_BUFFER}`);
      }
      if (source.kind === 'topic' && o.from !== 'latest') {
        requireCapability(capabilities, typeof o.from === 'string' ? 'replay' : 'replayFromPosition');
        const start = streamStart(o.from);
        // `from` is the start of a new group: a group that already has its queue goes on consuming it,
        // so a member joining with `from` competes with the others instead of reading everything again.
        if (partitions !== undefined && (await topology.exists(shardQueueName(groupQueueName(source.name, o.group), 0, { topic: source.name, group: o.group })))) {
          return shardedConsumer(await topology.shardedGroup(source.name, o.group, o.filter, partitions));
        }
        if (partitions === undefined && (await topology.exists(groupQueueName(source.name, o.group)))) return queueConsumer(await topology.group(source.name, o.group, o.filter));
        const stream = await topology.stream(source.name, options.streamRetentionMs);
        const sc = new StreamConsumer(ctx, source, stream, o);
        await sc.init(start);
        return sc as ConsumerDriver<unknown>;
      }
      if (partitions !== undefined) {
        return shardedConsumer(source.kind === 'queue' ? await topology.shardedQueue(source.name, partitions) : await topology.shardedGroup(source.name, o.group, o.filter, partitions));
      }
      return queueConsumer(source.kind === 'queue' ? (await targetOf(source), source.name) : await topology.group(source.name, o.group, o.filter));

      async function shardedConsumer(queues: ShardQueues): Promise<ConsumerDriver<unknown>> {
        const sc = new ShardedConsumer(ctx, queues, o);
        await sc.init();
        return sc as ConsumerDriver<unknown>;
      }

      async function queueConsumer(queue: string): Promise<ConsumerDriver<unknown>> {
        const qc = new QueueConsumer(ctx, queue, o);
        await qc.init();
        return qc as ConsumerDriver<unknown>;
      }
    },

    async ensureDestination(dest, o) {
      if (dest.kind === 'topic' && o?.retentionMs !== undefined && options.streams) await topology.stream(dest.name, o.retentionMs, true);
      await targetOf(dest);
    },

    async deleteDestination(dest) {
      if (dest.kind === 'queue') {
        for (const q of [...shardsOf(dest.name), dest.name]) await topology.run((ch) => ch.deleteQueue(q));
        topology.forget(`q:${dest.name}`);
        topology.forgetKey(`p:${dest.name}`);
        return;
      }
      // Per-group objects first, then the registry that names them: an interrupted delete can be run again.
      for (const g of await topology.groupsOf(dest.name)) await removeGroup(dest.name, g);
      await topology.run((ch) => ch.deleteQueue(groupRegistryName(dest.name)));
      topology.forgetKey(`r:${groupRegistryName(dest.name)}`);
      await topology.run((ch) => ch.deleteExchange(dest.name));
      await topology.run((ch) => ch.deleteQueue(streamQueueName(dest.name)));
      topology.forget(`x:${dest.name}`);
      topology.forget(`s:${streamQueueName(dest.name)}`);
      // Deleting the exchange removed its bindings: group queues made again are bound again on next use.
      topology.forget(`b:${dest.name}@`);
    },

    /** A topic group's queue, its committed-offset queue and its registry record; a queue has no per-group objects. */
    async deleteGroup(dest, group) {
      if (dest.kind === 'queue') return;
      await removeGroup(dest.name, group);
      await topology.groupsOf(dest.name, group);
    },

    async listObjects(dest) {
      const objects: BrokerObject[] = [];
      const has = (name: string) => topology.exists(name);
      if (dest.kind === 'queue') {
        for (const name of [dest.name, ...shardsOf(dest.name)]) if (await has(name)) objects.push({ type: 'queue', name });
        return objects;
      }
      if (await topology.exchangeExists(dest.name)) objects.push({ type: 'exchange', name: dest.name });
      if (await has(streamQueueName(dest.name))) objects.push({ type: 'stream', name: streamQueueName(dest.name) });
      if (await has(groupRegistryName(dest.name))) objects.push({ type: 'queue', name: groupRegistryName(dest.name) });
      for (const group of await topology.groupsOf(dest.name)) {
        const base = groupQueueName(dest.name, group);
        for (const name of [base, offsetQueueName(dest.name, group), ...shardsOf(base, { topic: dest.name, group })]) if (await has(name)) objects.push({ type: 'queue', name, group });
      }
      return objects;
    },

    close: () => link.close(),
  };
}

/** Where a message for an unsharded destination goes: a queue through the default exchange, a topic to its exchange. */
function plainTarget(d: Destination): Target {
  return d.kind === 'queue' ? { exchange: '', routingKey: d.name } : { exchange: d.name, routingKey: '' };
}

const STAMPED = { stamp: true } as const;
const UNSTAMPED = { stamp: false } as const;

function content(m: NormalizedMessage): Buffer {
  return Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength);
}
