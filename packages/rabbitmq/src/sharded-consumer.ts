import type * as amqp from 'amqplib';
import { SwitchboardError, type Destination, type Headers } from '@switchboard/core';
import type { ConsumerDriver, InboundMessage, InboundSink, ResolvedConsumerOptions } from '@switchboard/core/driver';
import { connectionLost } from './channels';
import { classifyError } from './classify-error';
import { decodeMessage, generatedId, republishOptions, SHARD_HEADER, type DecodedMessage } from './codec';
import { quietly } from './consumer';
import { keepTrying, type Recoverable } from './link';
import { shardsToRelease } from './partitions';
import type { RabbitContext } from './session';
import type { ShardQueues, Target } from './topology';

/** While messages arrive, a member reads the group's member count at most this often (besides every rebalanceIntervalMs). */
const ARRIVAL_CHECK_MS = 100;

/** One shard queue as a member sees it: its own channel and consumer, and whether the broker made it the active consumer. */
interface Shard {
  /** Shard number; for the `any` queue, the partition count. */
  readonly index: number;
  /** A shard with single active consumer (false: the `any` queue of messages without a key, which members compete on). */
  readonly ordered: boolean;
  readonly queue: string;
  /** The channel consuming the shard (undefined while it is being (re)opened). */
  ch: amqp.Channel | undefined;
  /** A message came on the current channel: this member is the shard's single active consumer. */
  active: boolean;
  /** Giving the shard up: nothing more of it is handed out; once what was handed out is settled the channel closes. */
  releasing: boolean;
  /** Just became active: nothing of it is handed out until a look at the member count decided whether to keep it. */
  deciding: boolean;
  /** Handed out, not settled yet. */
  out: number;
  /** The subscription in progress. */
  subscribing: Promise<void> | undefined;
}

/** A delivery of a shard: only the channel it came on can settle it. */
export interface ShardHandle {
  readonly shard: Shard;
  readonly ch: amqp.Channel;
  readonly msg: amqp.Message;
  readonly attempt: number;
  readonly id: string;
  readonly key: string | undefined;
}

interface Arrival {
  readonly shard: Shard;
  readonly ch: amqp.Channel;
  readonly msg: amqp.Message;
}

/**
 * The consumer driver of a partitioned queue or topic group (option `partitions`): the member
 * consumes every shard queue and the `any` queue (messages without a key, which the members compete
 * on as on a plain queue), each on a channel of its own, and RabbitMQ's single active consumer
 * (`x-single-active-consumer`) hands each shard to one member of the group at a time, the next waiting
 * one taking over when the active one's channel closes or dies. So one key, which lives in one shard,
 * is handled by one member at a time, in queue order.
 *
 * - Flow: each shard channel has `basic.qos(prefetch)`; the member hands out at most `prefetch`
 *   unsettled messages over all its shards, in arrival order, and keeps the rest unacked.
 * - Fair share: every `rebalanceIntervalMs` (and, while messages arrive, at most every 100 ms) the member
 *   reads the group's member count (`consumerCount` of a shard: active + waiting consumers) and gives
 *   up the shards it is active on beyond ceil(partitions / members): it stops handing out that shard,
 *   waits until what it handed out of it is settled, then closes the shard's channel (the broker puts
 *   what it still held back at the head of the queue, in order, and activates the next waiting member)
 *   and subscribes again at the back of the waiting list.
 * - Close: nothing is cancelled while messages are held: closing the channels returns what was not
 *   handled, in order, before the broker activates another member.
 * - Retry republishes to the back of the message's shard (a keyed message keeps its shard: later
 *   messages of the key go on, skip rather than block); a message without a key to the `any` queue,
 *   where a member with room takes it. Dead letters are republished like the plain
 *   queue consumer's. Polling is core's, over the push stream: `basic.get` would bypass the single
 *   active consumer.
 */
export class ShardedConsumer implements ConsumerDriver<ShardHandle>, Recoverable {
  /** The ordered shards, shard i at index i, then the `any` queue. */
  private readonly shards: Shard[];
  private readonly any: Shard;
  private readonly partitions: number;
  private readonly atMostOnce: boolean;
  private readonly prefetch: number;
  private sink: InboundSink<ShardHandle> | undefined;
  private readonly pending: Arrival[] = [];
  private readonly outstanding = new Set<ShardHandle>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private checking: Promise<void> | undefined;
  private recheck = false;
  private tick = 0;
  /** When the member count was last read (performance.now()). */
  private lastCheck = -Infinity;
  private closed = false;
  /** A shard queue is gone: the subscription failed, nothing is subscribed again. */
  private failed = false;

  constructor(
    private readonly ctx: RabbitContext,
    queues: ShardQueues,
    o: ResolvedConsumerOptions,
  ) {
    this.atMostOnce = o.ackMode === 'at-most-once';
    this.prefetch = o.prefetch;
    this.partitions = queues.shards.length;
    const shard = (queue: string, index: number, ordered: boolean): Shard => ({ index, ordered, queue, ch: undefined, active: false, releasing: false, deciding: false, out: 0, subscribing: undefined });
    this.any = shard(queues.any, this.partitions, false);
    this.shards = [...queues.shards.map((q, i) => shard(q, i, true)), this.any];
  }

  /** Waits for the connection so the consumer is ready before `connection.consumer()` resolves. */
  async init(): Promise<void> {
    await this.ctx.link.current();
    this.ctx.link.add(this);
  }


  start(sink: InboundSink<ShardHandle>): void {
    this.sink = sink;
    for (const s of this.shards) this.subscribe(s);
    // Once subscribed, a first look at the group: a member that was alone gives the others their share before messages flow.
    void Promise.all(this.shards.map((s) => s.subscribing))
      .then(() => this.rebalance())
      .catch(() => undefined);
    this.timer ??= setInterval(() => void this.rebalance().catch(() => undefined), this.ctx.options.rebalanceIntervalMs);
    this.timer.unref?.();
    this.pump();
  }

  /** Stops handing out; the shards stay subscribed (cancelling would let another member overtake what this one holds) until close. */
  async stop(): Promise<void> {
    this.sink = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(this.shards.map((s) => s.subscribing?.catch(() => undefined)));
  }

  /** Consumes the shard on a new channel: at the back of its waiting list, unless no member is there (then active at once). */
  private subscribe(s: Shard): void {
    if (this.closed || s.ch || s.subscribing) return;
    s.subscribing = (async () => {
      const m = await this.ctx.link.current();
      const ch = await m.createChannel();
      ch.on('error', (err: Error) => this.ctx.link.logger.debug({ backend: 'rabbitmq', err: err.message }, 'amqplib: channel error'));
      ch.on('close', () => this.channelClosed(s, ch));
      await ch.prefetch(this.prefetch, false);
      s.ch = ch;
      s.active = false;
      await ch.consume(s.queue, (msg) => this.onMessage(s, ch, msg), { noAck: false });
      // consumerCount counts active and waiting consumers: the only consumer of a shard is its active one.
      // Knowing it before a message comes lets a rebalance move the shard before it holds anything. (Only
      // certain knowledge counts: a member that took itself for active on a shard it waits on would give
      // up shards it has.)
      // A quorum queue (RabbitMQ 3.10) counts only the active consumer of a single-active-consumer queue, so
      // there the count tells nothing: the member learns it is active from the first message.
      if (!s.ordered || this.ctx.options.queueType === 'quorum') return;
      const after = (await ch.checkQueue(s.queue)).consumerCount;
      if (after === 1 && s.ch === ch) s.active = true;
    })()
      .catch((err: unknown) => {
        if (this.closed) return;
        const e = classifyError(err);
        if (e.code === 'not_found') {
          this.failed = true;
          this.sink?.fail(new SwitchboardError('not_found', `RabbitMQ has no shard queue "${s.queue}" (was it deleted?)`, { cause: e }));
        } else this.retrySubscribe(s);
      })
      .finally(() => {
        s.subscribing = undefined;
      });
  }

  private retrySubscribe(s: Shard): void {
    void keepTrying(
      async () => {
        this.subscribe(s);
        await s.subscribing;
        if (!s.ch) throw new Error('not subscribed');
      },
      () => !this.closed && !this.failed && this.ctx.link.isOpen && !s.ch,
    );
  }

  private onMessage(s: Shard, ch: amqp.Channel, msg: amqp.ConsumeMessage | null): void {
    if (msg === null) {
      this.failed = true;
      this.sink?.fail(new SwitchboardError('not_found', `RabbitMQ cancelled the consumer of shard queue "${s.queue}" (was it deleted?)`));
      return;
    }
    if (s.ch !== ch) return;
    this.pending.push({ shard: s, ch, msg });
    if (!s.ordered) return this.pump();
    if (!s.active) {
      // Active on one more shard: hand nothing of it out until a look at the member count decided
      // whether it is beyond this member's share (then it goes, with nothing to wait for).
      s.active = true;
      s.deciding = true;
      void this.rebalance()
        .catch(() => undefined)
        .finally(() => {
          s.deciding = false;
          this.pump();
        });
      return;
    }
    // Messages flowing: a member that joined is only seen by a look at the count, at most every ARRIVAL_CHECK_MS.
    if (performance.now() - this.lastCheck >= ARRIVAL_CHECK_MS) void this.rebalance().catch(() => undefined);
    this.pump();
  }

  /** Hands out arrivals in order while fewer than `prefetch` are unsettled; a shard being given up is skipped. */
  private pump(): void {
    while (this.sink && this.outstanding.size < this.prefetch) {
      const i = this.pending.findIndex((a) => !a.shard.releasing && !a.shard.deciding);
      if (i < 0) return;
      const [a] = this.pending.splice(i, 1) as [Arrival];
      if (a.shard.ch !== a.ch) continue;
      if (this.atMostOnce) quietly(() => a.ch.ack(a.msg));
      const m = this.inbound(a);
      this.outstanding.add(m.handle);
      a.shard.out++;
      this.sink.deliver(m);
    }
  }

  private inbound(a: Arrival): InboundMessage<ShardHandle> {
    const dec = decodeMessage(a.msg, () => generatedId(a.shard.queue)) as DecodedMessage & { handle?: ShardHandle; receipt?: string };
    dec.handle = { shard: a.shard, ch: a.ch, msg: a.msg, attempt: dec.attempt, id: dec.id, key: dec.key };
    dec.receipt = String(a.msg.fields.deliveryTag);
    return dec as InboundMessage<ShardHandle>;
  }

  /** A handed-out message is settled (or, at-most-once, taken): its slot frees, and a shard being given up may go. */
  private done(h: ShardHandle): void {
    if (!this.outstanding.delete(h)) return;
    h.shard.out--;
    if (h.shard.releasing && h.shard.out === 0) void this.finishRelease(h.shard);
    this.pump();
  }

  taken(h: ShardHandle): void {
    this.done(h);
  }

  async ack(h: ShardHandle): Promise<void> {
    this.assertLive(h, 'ack');
    try {
      h.ch.ack(h.msg);
    } catch (err) {
      throw classifyError(err);
    } finally {
      this.done(h);
    }
  }

  /**
   * Republishes with attempt + 1 to the back of its shard (through a TTL'd delay queue when delayed), then
   * acks the original: the key's later messages go on (skip, not block). A message without a key goes
   * to the `any` queue, where any member with room takes it.
   */
  async retry(h: ShardHandle, delayMs: number): Promise<void> {
    this.assertLive(h, 'nack');
    const shard = h.key === undefined ? this.any : h.shard;
    const here: Target = { exchange: '', routingKey: shard.queue };
    const to: Target = delayMs > 0 ? { exchange: '', routingKey: await this.ctx.topology.delay(here, Math.round(delayMs)) } : here;
    try {
      await this.ctx.publish(to, h.msg.content, republishOptions(h.msg, h.attempt + 1, {}, h.id));
      this.settleOriginal(h);
    } finally {
      this.done(h);
    }
  }

  async deadLetter(h: ShardHandle, to: Destination, headers: Headers): Promise<void> {
    this.assertLive(h, 'dead-letter');
    try {
      const target = await this.ctx.targetOf(to, h.key);
      const extra: Record<string, string> = target.shard === undefined ? { ...headers } : { ...headers, [SHARD_HEADER]: String(target.shard) };
      await this.ctx.publish(target, h.msg.content, republishOptions(h.msg, 1, extra, h.id));
      this.settleOriginal(h);
    } finally {
      this.done(h);
    }
  }

  /**
   * Gives a message back. While the consumer runs: `basic.nack(requeue)`. Once it stopped the message
   * stays unacked: closing the channel returns it with the rest, in order, before another member is
   * made active (a requeue now would reach this still active member again).
   */
  async release(h: ShardHandle): Promise<void> {
    if (this.sink && this.isLive(h)) quietly(() => h.ch.nack(h.msg, false, true));
    this.done(h);
  }

  private isLive(h: ShardHandle): boolean {
    return h.ch === h.shard.ch && this.ctx.link.isOpen;
  }

  private assertLive(h: ShardHandle, what: string): void {
    if (!this.isLive(h)) {
      this.done(h);
      throw connectionLost(`cannot ${what}`);
    }
  }

  private settleOriginal(h: ShardHandle): void {
    if (this.isLive(h)) quietly(() => h.ch.ack(h.msg));
  }

  /**
   * Compares the shards this member is active on with its fair share of the group (the member count
   * read from one shard queue, in turn) and starts giving up the excess. A call during a run makes one
   * more run after it (it may come from a shard the running one did not see), and resolves after that.
   */
  rebalance(): Promise<void> {
    if (this.checking) {
      this.recheck = true;
      return this.checking;
    }
    this.checking = (async () => {
      do {
        this.recheck = false;
        await this.checkOnce();
      } while (this.recheck && !this.closed);
    })().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async checkOnce(): Promise<void> {
    if (this.closed || !this.sink) return;
    const active = this.shards.filter((s) => s.ordered && s.active && !s.releasing).map((s) => s.index);
    if (active.length <= 1) return;
    // Every member consumes every shard and the any queue. A classic shard counts active and waiting
    // consumers; a quorum shard only the active one, so with quorum queues the group's size is read from
    // the any queue (no single active consumer there: every member is counted).
    const probe = this.ctx.options.queueType === 'quorum' ? this.any : this.shards[this.tick++ % this.partitions]!;
    this.lastCheck = performance.now();
    const { consumerCount } = await this.ctx.topology.run((ch) => ch.checkQueue(probe.queue));
    const busy = new Set(this.shards.filter((s) => s.out > 0).map((s) => s.index));
    for (const i of shardsToRelease(active, this.partitions, consumerCount, busy)) this.beginRelease(this.shards[i]!);
  }

  private beginRelease(s: Shard): void {
    if (s.releasing || !s.ch) return;
    s.releasing = true;
    if (s.out === 0) void this.finishRelease(s);
  }

  /** Nothing of the shard is unsettled: close its channel (the broker returns what it held, in order) and queue up again. */
  private async finishRelease(s: Shard): Promise<void> {
    const ch = s.ch;
    s.ch = undefined;
    s.active = false;
    this.dropPending(s);
    if (ch) await ch.close().catch(() => undefined);
    s.releasing = false;
    if (!this.closed && this.sink) this.subscribe(s);
    this.pump();
  }

  private dropPending(s: Shard): void {
    for (let i = this.pending.length - 1; i >= 0; i--) if (this.pending[i]!.shard === s) this.pending.splice(i, 1);
  }

  /** A shard channel closed: by us (release, close), or by the broker (a channel error): then consume it again. */
  private channelClosed(s: Shard, ch: amqp.Channel): void {
    if (s.ch !== ch) return;
    s.ch = undefined;
    s.active = false;
    s.releasing = false;
    this.dropPending(s);
    for (const h of [...this.outstanding]) if (h.shard === s) this.outstanding.delete(h);
    s.out = 0;
    setImmediate(() => {
      if (!this.closed && this.ctx.link.isOpen) this.retrySubscribe(s);
    });
  }

  /** The connection is gone, and with it every channel: the broker gives back what they held. */
  lost(): void {
    for (const s of this.shards) {
      s.ch = undefined;
      s.active = false;
      s.releasing = false;
      s.out = 0;
    }
    this.pending.length = 0;
    this.outstanding.clear();
  }

  /** Subscribes every shard again on the new connection. */
  async recover(): Promise<void> {
    if (this.closed || !this.sink) return;
    for (const s of this.shards) this.subscribe(s);
    await Promise.all(this.shards.map((s) => s.subscribing));
    if (this.shards.some((s) => !s.ch)) throw new Error('not every shard is subscribed yet');
  }

  /** Closing the shard channels gives back whatever they still hold, in order, before another member takes over. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.stop();
    this.closed = true;
    this.ctx.link.remove(this);
    const channels = this.shards.map((s) => s.ch).filter((c): c is amqp.Channel => c !== undefined);
    for (const s of this.shards) s.ch = undefined;
    this.pending.length = 0;
    await Promise.all(channels.map((c) => c.close().catch(() => undefined)));
  }
}
