import type * as amqp from 'amqplib';
import { SwitchboardError, type Destination, type Headers, type StartPosition } from '@switchboard/core';
import type { ConsumerDriver, InboundMessage, InboundSink, ResolvedConsumerOptions } from '@switchboard/core/driver';
import { ChannelSlot } from './channels';
import { decodeMessage, generatedId, republishOptions, SENT_AT } from './codec';
import { quietly } from './consumer';
import { keepTrying, shared, sleep, type Recoverable } from './link';
import { offsetQueueName } from './names';
import type { RabbitContext } from './session';

/** `Delivery.position` of a stream record: its stream offset in decimal. */
export function formatPosition(offset: number): string {
  return String(offset);
}

/** The stream offset a `Delivery.position` names; anything else is `invalid_argument`. */
export function parsePosition(position: string): number {
  const n = Number(position);
  if (!/^\d+$/.test(position) || !Number.isSafeInteger(n)) throw new SwitchboardError('invalid_argument', `RabbitMQ: position "${position}" is not one this adapter gives out (a stream offset in decimal)`);
  return n;
}

/** Where a new group's reader starts: the `x-stream-offset` argument, and for a timestamp the send time (ms) before which records are skipped. */
export interface StreamStart {
  readonly offset: unknown;
  readonly notBefore?: number | undefined;
}

/** Turns `from` into a {@link StreamStart}; a bad position or offset throws `invalid_argument`, before anything is declared. */
export function streamStart(from: StartPosition): StreamStart {
  if (from === 'earliest') return { offset: 'first' };
  if (from === 'latest') return { offset: 'next' };
  // Inclusive: a stream read from offset n starts with the record at n.
  if ('position' in from) return { offset: parsePosition(from.position) };
  if ('offset' in from) {
    const n = Number(from.offset);
    if (!Number.isInteger(n) || n < 0) throw new SwitchboardError('invalid_argument', `stream offset "${from.offset}" is not a non-negative integer`);
    return { offset: n };
  }
  const ms = from.timestamp instanceof Date ? from.timestamp.getTime() : from.timestamp;
  return { offset: { '!': 'timestamp', value: Math.floor(ms / 1000) - 1 }, notBefore: ms };
}

/** One read of a stream offset; a client-side redelivery is a new entry with attempt + 1. */
export interface StreamEntry {
  readonly ch: amqp.Channel;
  readonly msg: amqp.Message;
  readonly offset: number;
  readonly attempt: number;
  /** The id of a record without `message_id`, made once per read so client-side redeliveries keep it. */
  readonly fallbackId: string;
  done: boolean;
}

/**
 * The consumer driver of topic replay through the topic's RabbitMQ stream (`x-queue-type: stream`).
 * A stream is read, never consumed: each reader gets every message from its start offset
 * (`x-stream-offset`). The group's committed position (the highest offset below which everything
 * was settled) is kept in a one-message durable queue `<topic>@<group>@@offset` and read back on
 * start (AMQP 0-9-1 has no server-side offset tracking). A stream has no requeue, so `retry`
 * redelivers client-side. One reader per group: members of a replaying group do not compete.
 * Reading starts in `init`; what arrives before `start` (bounded by the channel's prefetch) is held.
 */
export class StreamConsumer implements ConsumerDriver<StreamEntry>, Recoverable {
  private readonly slot: ChannelSlot<amqp.Channel>;
  /** Offset -> its current entry, until committed. */
  private readonly entries = new Map<number, StreamEntry>();
  /** Offsets read in order, not yet committed. */
  private readonly order: number[] = [];
  /** Read (or released) while nobody was listening. */
  private readonly held: StreamEntry[] = [];
  private readonly offsetQueue: string;
  private readonly group: string;
  private readonly atMostOnce: boolean;
  private sink: InboundSink<StreamEntry> | undefined;
  private committed: number | undefined;
  private lastSeen: number | undefined;
  private writing: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  private from: unknown = 'first';
  /** Replay by timestamp: x-stream-offset has second precision, so earlier messages of that second are skipped here. */
  private notBefore: number | undefined;
  private reading: amqp.Channel | undefined;

  constructor(
    private readonly ctx: RabbitContext,
    readonly source: Destination,
    private readonly stream: string,
    o: ResolvedConsumerOptions,
  ) {
    this.offsetQueue = offsetQueueName(source.name, o.group);
    this.group = o.group;
    this.atMostOnce = o.ackMode === 'at-most-once';
    this.slot = new ChannelSlot(
      ctx.link,
      (m) => m.createChannel(),
      async (ch) => {
        await ch.prefetch(Math.max(o.prefetch, 1), false);
      },
      () => this.channelDied(),
    );
  }

  /** Reads the committed position (else starts at `start`, see {@link streamStart}) and begins reading. */
  async init(start: StreamStart): Promise<void> {
    const { topology } = this.ctx;
    await topology.offsets(this.source.name, this.group);
    const saved = await topology.run(async (ch) => {
      const m = await ch.get(this.offsetQueue, { noAck: false });
      if (m === false) return undefined;
      ch.nack(m, false, true);
      const n = Number(m.content.toString());
      return Number.isInteger(n) ? n : undefined;
    });
    if (saved !== undefined) {
      this.committed = saved;
      this.readFrom(saved + 1);
    } else {
      this.readFrom(start.offset);
      this.notBefore = start.notBefore;
    }
    await this.consume();
    this.ctx.link.add(this);
  }

  /** Where the next reader starts; from a numeric offset, whatever the broker sends from before it (the rest of its chunk) is skipped. */
  private readFrom(from: unknown): void {
    this.from = from;
    this.lastSeen = typeof from === 'number' ? from - 1 : undefined;
  }

  private async consume(): Promise<void> {
    const ch = await this.slot.get();
    this.reading = ch;
    try {
      await ch.consume(this.stream, (msg) => this.onMessage(ch, msg), { noAck: false, arguments: { 'x-stream-offset': this.from } });
    } catch (err) {
      if (this.reading === ch) this.reading = undefined;
      throw err;
    }
  }

  private onMessage(ch: amqp.Channel, msg: amqp.ConsumeMessage | null): void {
    if (!msg) {
      this.sink?.fail(new SwitchboardError('not_found', `RabbitMQ cancelled the reader of stream "${this.stream}"`));
      return;
    }
    const offset = Number(msg.properties.headers?.['x-stream-offset']);
    if (this.lastSeen !== undefined && offset <= this.lastSeen) {
      // Seen before a reconnect, or before the start offset: only give the credit back.
      quietly(() => ch.ack(msg));
      return;
    }
    this.lastSeen = offset;
    if (this.notBefore !== undefined) {
      const sentAt = Number(String(msg.properties.headers?.[SENT_AT] ?? '')) || Number(msg.properties.timestamp) * 1000;
      if (sentAt < this.notBefore) {
        quietly(() => ch.ack(msg));
        return;
      }
      this.notBefore = undefined;
    }
    const e: StreamEntry = { ch, msg, offset, attempt: 1, fallbackId: generatedId(this.stream), done: false };
    this.entries.set(offset, e);
    this.order.push(offset);
    this.handOver(e);
  }

  /** To the sink, or held until there is one. at-most-once: settled as it is handed over. */
  private handOver(e: StreamEntry): void {
    if (!this.sink) {
      this.held.push(e);
      return;
    }
    if (this.atMostOnce) this.settle(e);
    this.sink.deliver(this.inbound(e));
  }

  private inbound(e: StreamEntry): InboundMessage<StreamEntry> {
    const dec = decodeMessage(e.msg, e.fallbackId);
    return { ...dec, handle: e, attempt: e.attempt, receipt: String(e.offset), position: formatPosition(e.offset) };
  }

  start(sink: InboundSink<StreamEntry>): void {
    this.sink = sink;
    this.flush();
  }

  private flush(): void {
    while (this.sink && this.held.length > 0) {
      const e = this.held.shift()!;
      if (!e.done && this.entries.get(e.offset) === e) this.handOver(e);
    }
  }

  async stop(): Promise<void> {
    this.sink = undefined;
  }

  async ack(e: StreamEntry): Promise<void> {
    this.settle(e);
  }

  /** Client-side redelivery, a stream has no requeue: the offset stays uncommitted until settled. */
  async retry(e: StreamEntry, delayMs: number): Promise<void> {
    const next: StreamEntry = { ...e, attempt: e.attempt + 1, done: false };
    e.done = true;
    this.entries.set(e.offset, next);
    const again = () => {
      if (!this.closed && this.entries.get(e.offset) === next) this.handOver(next);
    };
    if (delayMs > 0) setTimeout(again, delayMs).unref?.();
    else setImmediate(again);
  }

  async deadLetter(e: StreamEntry, to: Destination, headers: Headers): Promise<void> {
    await this.ctx.publish(await this.ctx.targetOf(to), e.msg.content, republishOptions(e.msg, 1, headers, e.fallbackId));
    this.settle(e);
  }

  /** Not handled: held for the next reader of this consumer, without counting an attempt. */
  async release(e: StreamEntry): Promise<void> {
    if (this.closed || e.done) return;
    this.held.unshift(e);
    if (this.sink) setImmediate(() => this.flush());
  }

  /** Done with an offset: give the channel its credit back and advance the committed position. */
  private settle(e: StreamEntry): void {
    e.done = true;
    if (e.ch === this.slot.peek()) quietly(() => e.ch.ack(e.msg));
    let advanced = false;
    while (this.order.length > 0) {
      const first = this.entries.get(this.order[0]!);
      if (first && !first.done) break;
      this.committed = this.order.shift()!;
      this.entries.delete(this.committed);
      advanced = true;
    }
    if (advanced) this.writeCommit();
  }

  private writeCommit(): void {
    if (this.writing) {
      this.dirty = true;
      return;
    }
    this.writing = (async () => {
      do {
        this.dirty = false;
        const value = this.committed;
        if (value === undefined) break;
        await this.ctx.publish({ exchange: '', routingKey: this.offsetQueue }, Buffer.from(String(value)), { persistent: true }).catch(() => undefined);
      } while (this.dirty);
    })().finally(() => {
      this.writing = undefined;
    });
  }

  /** The reader's channel died on its own: read again from the committed position on a new channel. */
  private channelDied(): void {
    if (this.closed) return;
    this.lost();
    void keepTrying(this.recover, () => !this.closed && this.ctx.link.isOpen);
  }

  lost(): void {
    // Unsettled offsets are read again after the reconnect, from the committed position.
    this.entries.clear();
    this.order.length = 0;
    this.held.length = 0;
    this.readFrom(this.committed === undefined ? this.from : this.committed + 1);
    this.slot.reset();
  }

  /** Reads again from the committed position on a new channel; concurrent calls share one attempt. */
  readonly recover = shared(async () => {
    if (this.closed) return;
    const ch = await this.slot.get();
    if (this.reading !== ch) await this.consume();
  });

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sink = undefined;
    this.held.length = 0;
    this.ctx.link.remove(this);
    for (let i = 0; i < 50 && this.writing; i++) await Promise.race([this.writing, sleep(100)]);
    await this.slot.close();
  }
}
