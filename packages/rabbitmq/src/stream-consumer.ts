import type * as amqp from 'amqplib';
import {
  abortedError,
  closedError,
  createDelivery,
  formatDestination,
  HEADERS,
  SwitchboardError,
  type ConsumerParts,
  type Delivery,
  type Destination,
  type PushHandle,
  type ResolvedConsumerOptions,
  type StartPosition,
} from '@switchboard/core';
import { ChannelSlot } from './channels';
import { decodeMessage, republishOptions, SENT_AT } from './codec';
import type { ConsumerHost } from './consumer';
import { sleep, type Recoverable } from './link';
import { offsetQueueName } from './names';
import type { Topology } from './topology';

interface Entry {
  readonly ch: amqp.Channel;
  readonly msg: amqp.Message;
  readonly offset: number;
  attempt: number;
  done: boolean;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Replay of a topic through its RabbitMQ stream (`x-queue-type: stream`). A stream is read,
 * never consumed: each reader gets every message from its start offset (`x-stream-offset`).
 * The group's committed position (the highest offset below which everything was acked) is kept in
 * a one-message durable queue `<topic>@<group>@@offset` and read back on start (AMQP 0-9-1 has no
 * server-side offset tracking). Redelivery (nack, ack timeout) is done client-side: a stream has
 * no requeue. One reader per group: members of a replaying group do not compete.
 */
export class StreamConsumer implements Recoverable {
  private readonly slot: ChannelSlot<amqp.Channel>;
  private readonly buffer: Delivery[] = [];
  private readonly entries = new Map<number, Entry>();
  private readonly byDelivery = new WeakMap<Delivery, Entry>();
  /** Offsets delivered in order, not yet committed. */
  private readonly order: number[] = [];
  private push: { deliver: (d: Delivery) => void; fail: (err: unknown) => void } | undefined;
  private pollWaiter: (() => void) | undefined;
  private committed: number | undefined;
  private lastSeen: number | undefined;
  private writing: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  private start: unknown = 'first';
  /** Replay by timestamp: x-stream-offset has second precision, so earlier messages of that second are skipped here. */
  private notBefore: number | undefined;
  private readonly offsetQueue: string;

  constructor(
    private readonly host: ConsumerHost,
    readonly source: Destination,
    private readonly stream: string,
    private readonly o: ResolvedConsumerOptions,
    private readonly topology: Topology,
  ) {
    this.offsetQueue = offsetQueueName(source.name, o.group);
    this.slot = new ChannelSlot(
      host.link,
      (m) => m.createChannel(),
      async (ch) => {
        await ch.prefetch(Math.max(o.prefetch, 1), false);
      },
      () => this.channelDied(),
    );
  }

  async init(from: StartPosition | undefined): Promise<void> {
    await this.topology.run((ch) => ch.assertQueue(this.offsetQueue, { durable: true, arguments: { 'x-max-length': 1 } }));
    const saved = await this.topology.run(async (ch) => {
      const m = await ch.get(this.offsetQueue, { noAck: false });
      if (m === false) return undefined;
      ch.nack(m, false, true);
      const n = Number(m.content.toString());
      return Number.isInteger(n) ? n : undefined;
    });
    if (saved !== undefined) {
      this.committed = saved;
      this.start = saved + 1;
    } else if (from === 'earliest' || from === undefined) {
      this.start = 'first';
    } else if (from === 'latest') {
      this.start = 'next';
    } else if ('offset' in from) {
      const n = Number(from.offset);
      if (!Number.isInteger(n) || n < 0) throw new SwitchboardError('invalid_argument', `stream offset "${from.offset}" is not a non-negative integer`);
      this.start = n;
    } else {
      const ms = from.timestamp instanceof Date ? from.timestamp.getTime() : from.timestamp;
      this.start = { '!': 'timestamp', value: Math.floor(ms / 1000) - 1 };
      this.notBefore = ms;
    }
    await this.consume();
    this.host.link.add(this);
  }

  private async consume(): Promise<void> {
    const ch = await this.slot.get();
    this.reading = ch;
    try {
      await ch.consume(this.stream, (msg) => this.onMessage(ch, msg), { noAck: false, arguments: { 'x-stream-offset': this.start } });
    } catch (err) {
      if (this.reading === ch) this.reading = undefined;
      throw err;
    }
  }

  parts(): ConsumerParts {
    return {
      source: this.source,
      group: this.o.group,
      startPush: (deliver, fail) => this.startPush(deliver, fail),
      poll: (max, waitMs, signal) => this.poll(max, waitMs, signal),
      release: (d) => this.release(d),
      close: () => this.close(),
    };
  }

  private onMessage(ch: amqp.Channel, msg: amqp.ConsumeMessage | null): void {
    if (!msg) {
      this.push?.fail(new SwitchboardError('not_found', `RabbitMQ cancelled the reader of stream "${this.stream}"`));
      return;
    }
    const offset = Number(msg.properties.headers?.['x-stream-offset']);
    if (this.lastSeen !== undefined && offset <= this.lastSeen) {
      // Seen before a reconnect: only credit it.
      try { ch.ack(msg); } catch { /* gone */ }
      return;
    }
    this.lastSeen = offset;
    if (this.notBefore !== undefined) {
      const sentAt = Number(String(msg.properties.headers?.[SENT_AT] ?? '')) || Number(msg.properties.timestamp) * 1000;
      if (sentAt < this.notBefore) {
        try { ch.ack(msg); } catch { /* gone */ }
        return;
      }
      this.notBefore = undefined;
    }
    const e: Entry = { ch, msg, offset, attempt: 1, done: false, timer: undefined };
    this.entries.set(offset, e);
    this.order.push(offset);
    this.emit(this.toDelivery(e));
  }

  private emit(d: Delivery): void {
    if (this.push) this.push.deliver(d);
    else {
      this.buffer.push(d);
      this.pollWaiter?.();
    }
  }

  private toDelivery(e: Entry): Delivery {
    const dec = decodeMessage(e.msg, `${this.stream}#${e.offset}`);
    const atMostOnce = this.o.ackMode === 'at-most-once';
    if (atMostOnce) this.settle(e);
    else this.arm(e, this.o.ackTimeoutMs);
    const d = createDelivery(
      {
        id: dec.id,
        body: dec.body,
        key: dec.key,
        headers: dec.headers,
        attempt: e.attempt,
        destination: this.source.name,
        receipt: String(e.offset),
        timestamp: dec.timestamp,
        replyTo: dec.replyTo,
        correlationId: dec.correlationId,
        preAcked: atMostOnce,
      },
      {
        ack: async () => {
          if (this.closed) return;
          this.assertLive(e);
          this.settle(e);
        },
        nack: async (delayMs, reason) => {
          if (this.closed) return;
          this.assertLive(e);
          await this.retry(e, delayMs ?? 0, reason ?? `failed ${e.attempt} attempts`);
        },
        extend: async (ms) => {
          this.assertLive(e);
          this.arm(e, ms);
        },
        reject: async (reason) => {
          this.assertLive(e);
          await this.deadLetter(e, reason);
        },
        respond: (replyTo, corr, m) => this.host.respond(replyTo, corr, m),
      },
      this.host.capabilities,
    );
    this.byDelivery.set(d, e);
    return d;
  }

  private assertLive(e: Entry): void {
    if (e.done) throw new SwitchboardError('already_settled', 'the delivery is settled');
    if (this.closed) throw closedError(`reader of ${formatDestination(this.source)}`);
  }

  private arm(e: Entry, ms: number): void {
    if (e.timer) clearTimeout(e.timer);
    e.timer = setTimeout(() => {
      e.timer = undefined;
      if (!e.done && !this.closed) void this.retry(e, 0, 'ack timeout').catch(() => undefined);
    }, ms);
    e.timer.unref?.();
  }

  /** Client-side redelivery: a stream has no requeue. */
  private async retry(e: Entry, delayMs: number, reason: string): Promise<void> {
    if (this.o.maxAttempts !== undefined && e.attempt >= this.o.maxAttempts) {
      await this.deadLetter(e, reason);
      return;
    }
    if (e.timer) clearTimeout(e.timer);
    e.timer = undefined;
    const next: Entry = { ...e, attempt: e.attempt + 1, done: false, timer: undefined };
    e.done = true;
    this.entries.set(e.offset, next);
    const again = () => {
      if (!this.closed && !next.done) this.emit(this.toDelivery(next));
    };
    if (delayMs > 0) setTimeout(again, delayMs).unref?.();
    else setImmediate(again);
  }

  private async deadLetter(e: Entry, reason: string): Promise<void> {
    const target = await this.host.targetOf(this.o.deadLetter);
    await this.host.publish(
      target,
      e.msg.content,
      republishOptions(e.msg, 1, {
        [HEADERS.deadLetterReason]: reason.slice(0, 4000),
        [HEADERS.deadLetterAttempts]: String(e.attempt),
        [HEADERS.deadLetterSource]: formatDestination(this.source),
        [HEADERS.deadLetterSourceRef]: String(e.offset),
      }),
    );
    this.settle(this.entries.get(e.offset) ?? e);
  }

  /** Done with an offset: give the channel its credit back and advance the committed position. */
  private settle(e: Entry): void {
    if (e.timer) clearTimeout(e.timer);
    e.timer = undefined;
    e.done = true;
    const cur = this.entries.get(e.offset);
    if (cur && cur !== e) cur.done = true;
    if (e.ch === this.slot.peek()) {
      try { e.ch.ack(e.msg); } catch { /* gone */ }
    }
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
        await this.host.publish({ exchange: '', routingKey: this.offsetQueue }, Buffer.from(String(value)), { persistent: true }).catch(() => undefined);
      } while (this.dirty);
    })().finally(() => {
      this.writing = undefined;
    });
  }

  private startPush(deliver: (d: Delivery) => void, fail: (err: unknown) => void): PushHandle {
    this.push = { deliver, fail };
    for (const d of this.buffer.splice(0)) deliver(d);
    return {
      stop: async () => {
        this.push = undefined;
      },
    };
  }

  private async poll(max: number, waitMs: number, signal: AbortSignal | undefined): Promise<Delivery[]> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (this.buffer.length > 0) return this.buffer.splice(0, max);
      const left = deadline - Date.now();
      if (left <= 0) return [];
      if (signal?.aborted) throw abortedError(signal);
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, left);
        function done() {
          clearTimeout(t);
          resolve();
        }
        this.pollWaiter = done;
        signal?.addEventListener('abort', done, { once: true });
      });
      this.pollWaiter = undefined;
    }
  }

  private async release(d: Delivery): Promise<void> {
    const e = this.byDelivery.get(d);
    if (!e || e.done) return;
    // Not handled: keep it for the next reader of this consumer (buffer), without counting an attempt.
    if (!this.closed) this.buffer.unshift(d);
  }

  /** The reader's channel died on its own: read again from the committed position on a new channel. */
  private channelDied(): void {
    if (this.closed) return;
    this.lost();
    void (async () => {
      for (let i = 0; !this.closed && this.host.link.isOpen; i++) {
        try {
          await this.recover();
          return;
        } catch {
          await sleep(Math.min(200 * 2 ** i, 5000));
        }
      }
    })();
  }

  lost(): void {
    for (const e of this.entries.values()) if (e.timer) clearTimeout(e.timer);
    // Unsettled offsets are read again after the reconnect, from the committed position.
    this.entries.clear();
    this.order.length = 0;
    this.buffer.length = 0;
    this.lastSeen = this.committed;
    this.start = this.committed === undefined ? this.start : this.committed + 1;
    this.slot.reset();
  }

  private recovering: Promise<void> | undefined;
  private reading: amqp.Channel | undefined;

  /** Reads again from the committed position on a new channel; concurrent calls share one attempt. */
  recover(): Promise<void> {
    this.recovering ??= (async () => {
      if (this.closed) return;
      const ch = await this.slot.get();
      if (this.reading !== ch) await this.consume();
    })().finally(() => {
      this.recovering = undefined;
    });
    return this.recovering;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.push = undefined;
    this.host.link.remove(this);
    this.host.forgetConsumer(this as never);
    for (const e of this.entries.values()) if (e.timer) clearTimeout(e.timer);
    for (let i = 0; i < 50 && this.writing; i++) await Promise.race([this.writing, sleep(100)]);
    await this.slot.close();
  }
}
