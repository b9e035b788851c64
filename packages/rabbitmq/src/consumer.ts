import type * as amqp from 'amqplib';
import {
  abortedError,
  closedError,
  createDelivery,
  formatDestination,
  HEADERS,
  SwitchboardError,
  type Capabilities,
  type ConsumerParts,
  type Delivery,
  type Destination,
  type NormalizedMessage,
  type PushHandle,
  type ResolvedConsumerOptions,
} from '@switchboard/core';
import { ChannelSlot, connectionLost } from './channels';
import { classifyError } from './classify-error';
import { carriedAttempt, decodeMessage, republishOptions } from './codec';
import { sleep, type Link, type Recoverable } from './link';
import type { Target } from './topology';

/** What a consumer needs from its connection. */
export interface ConsumerHost {
  readonly link: Link;
  readonly capabilities: Capabilities;
  /** Publishes with a confirm; resolves the broker reference. */
  publish(target: Target, content: Buffer, options: amqp.Options.Publish): Promise<string | undefined>;
  /** Resolves (and provisions) where messages for a destination go. */
  targetOf(d: Destination): Promise<Target>;
  /** A TTL'd retry queue in front of `target`. */
  delayQueue(target: Target, delayMs: number): Promise<string>;
  /** Sends a reply to a request's reply-to address. */
  respond(replyTo: string, correlationId: string | undefined, m: NormalizedMessage): Promise<void>;
  forgetConsumer(c: RabbitConsumer): void;
}

/** How long close() waits for deliveries handed out but not yet settled before the channel closes (then they are requeued). */
const CLOSE_GRACE_MS = 1000;

interface Tracker {
  readonly ch: amqp.Channel;
  readonly msg: amqp.Message;
  readonly attempt: number;
  readonly receipt: string;
  done: boolean;
  expired: boolean;
  timer: NodeJS.Timeout | undefined;
}

/**
 * One consumer on one queue (a mailbox, or a topic group's queue) with its own channel, so
 * `basic.qos(prefetch)` bounds what it holds unacked. Retries, delays and dead letters are
 * republished with a confirm before the original is acked, which carries an exact attempt count
 * in the `sb-attempt` header (RabbitMQ's own redelivered flag is not a count).
 */
export class RabbitConsumer implements Recoverable {
  private readonly slot: ChannelSlot<amqp.Channel>;
  private readonly trackers = new Set<Tracker>();
  private readonly byDelivery = new WeakMap<Delivery, Tracker>();
  private push: { deliver: (d: Delivery) => void; fail: (err: unknown) => void } | undefined;
  private consumerTag: { ch: amqp.Channel; tag: string } | undefined;
  private starting: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly host: ConsumerHost,
    readonly source: Destination,
    /** The queue consumed. */
    readonly queue: string,
    private readonly o: ResolvedConsumerOptions,
  ) {
    this.slot = new ChannelSlot(
      host.link,
      (m) => m.createChannel(),
      async (ch) => {
        await ch.prefetch(o.prefetch, false);
      },
      () => this.channelDied(),
    );
  }

  /** Opens the channel so the consumer is ready before `connection.consumer()` resolves. */
  async init(): Promise<void> {
    await this.slot.get();
    this.host.link.add(this);
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

  private startPush(deliver: (d: Delivery) => void, fail: (err: unknown) => void): PushHandle {
    this.push = { deliver, fail };
    this.starting = this.startConsume().catch((err: unknown) => fail(classifyError(err)));
    return { stop: () => this.stopPush() };
  }

  private async startConsume(): Promise<void> {
    if (this.closed || !this.push) return;
    const ch = await this.slot.get();
    const r = await ch.consume(this.queue, (msg) => this.onMessage(ch, msg), { noAck: false });
    this.consumerTag = { ch, tag: r.consumerTag };
  }

  private async stopPush(): Promise<void> {
    const push = this.push;
    this.push = undefined;
    if (!push) return;
    await this.starting?.catch(() => undefined);
    const ct = this.consumerTag;
    this.consumerTag = undefined;
    if (ct && ct.ch === this.slot.peek()) await ct.ch.cancel(ct.tag).catch(() => undefined);
  }

  private onMessage(ch: amqp.Channel, msg: amqp.ConsumeMessage | null): void {
    if (msg === null) {
      // The broker cancelled the consumer: the queue was deleted.
      this.push?.fail(new SwitchboardError('not_found', `RabbitMQ cancelled the consumer of queue "${this.queue}" (was it deleted?)`));
      return;
    }
    const d = this.toDelivery(ch, msg);
    if (!this.push) {
      void this.release(d).catch(() => undefined);
      return;
    }
    this.push.deliver(d);
  }

  private toDelivery(ch: amqp.Channel, msg: amqp.Message): Delivery {
    const dec = decodeMessage(msg, `${this.queue}#${msg.fields.deliveryTag}`);
    const atMostOnce = this.o.ackMode === 'at-most-once';
    const t: Tracker = { ch, msg, attempt: dec.attempt, receipt: String(msg.fields.deliveryTag), done: false, expired: false, timer: undefined };
    if (atMostOnce) {
      try {
        ch.ack(msg);
      } catch {
        /* channel gone: the broker redelivers; nothing to do */
      }
      t.done = true;
    } else {
      this.trackers.add(t);
      this.arm(t, this.o.ackTimeoutMs);
    }
    const d = createDelivery(
      {
        id: dec.id,
        body: dec.body,
        key: dec.key,
        headers: dec.headers,
        attempt: dec.attempt,
        destination: this.source.name,
        receipt: t.receipt,
        timestamp: dec.timestamp,
        replyTo: dec.replyTo,
        correlationId: dec.correlationId,
        preAcked: atMostOnce,
      },
      {
        ack: () => this.ack(t),
        nack: (delayMs, reason) => this.nack(t, delayMs, reason),
        extend: async (ms) => {
          this.assertLive(t, 'extend');
          this.arm(t, ms);
        },
        reject: (reason) => this.deadLetter(t, reason),
        respond: (replyTo, correlationId, m) => this.host.respond(replyTo, correlationId, m),
      },
      this.host.capabilities,
    );
    this.byDelivery.set(d, t);
    return d;
  }

  /** (Re)starts the client-side ack deadline: on expiry the message is retried with attempt + 1. */
  private arm(t: Tracker, ms: number): void {
    if (t.timer) clearTimeout(t.timer);
    t.timer = setTimeout(() => void this.expire(t), ms);
    t.timer.unref?.();
  }

  private async expire(t: Tracker): Promise<void> {
    t.timer = undefined;
    if (t.done || !this.isLive(t)) return;
    t.expired = true;
    try {
      if (this.o.maxAttempts !== undefined && t.attempt >= this.o.maxAttempts) await this.moveToDeadLetter(t, `ack timeout after ${t.attempt} attempt(s)`);
      else await this.requeue(t, 0);
    } catch {
      /* the channel died: the broker redelivers it */
    }
  }

  private isLive(t: Tracker): boolean {
    return t.ch === this.slot.peek();
  }

  private assertLive(t: Tracker, what: string): void {
    if (t.expired) throw new SwitchboardError('timeout', `cannot ${what}: the ack deadline of this delivery passed and it was redelivered`);
    if (t.done) throw new SwitchboardError('already_settled', `cannot ${what}: the delivery is settled`);
    if (!this.isLive(t)) throw connectionLost(`cannot ${what}`);
  }

  private finish(t: Tracker): void {
    t.done = true;
    if (t.timer) clearTimeout(t.timer);
    t.timer = undefined;
    this.trackers.delete(t);
  }

  private async ack(t: Tracker): Promise<void> {
    // After close() the channel is gone and the broker has the message back: nothing left to ack.
    if (this.closed && !this.isLive(t) && !t.expired) return;
    this.assertLive(t, 'ack');
    try {
      t.ch.ack(t.msg);
    } catch (err) {
      throw classifyError(err);
    }
    this.finish(t);
  }

  private async nack(t: Tracker, delayMs: number | undefined, reason: string | undefined): Promise<void> {
    if (this.closed && !this.isLive(t) && !t.expired) return;
    this.assertLive(t, 'nack');
    if (this.o.maxAttempts !== undefined && t.attempt >= this.o.maxAttempts) {
      await this.moveToDeadLetter(t, reason ?? `failed ${t.attempt} of ${this.o.maxAttempts} attempts`);
      return;
    }
    await this.requeue(t, delayMs ?? 0);
  }

  /** Republishes with attempt + 1 (through a TTL'd retry queue when delayed), then acks the original. */
  private async requeue(t: Tracker, delayMs: number): Promise<void> {
    const here: Target = { exchange: '', routingKey: this.queue };
    const to: Target = delayMs > 0 ? { exchange: '', routingKey: await this.host.delayQueue(here, Math.round(delayMs)) } : here;
    const next = Math.max(t.attempt, carriedAttempt(t.msg)) + 1;
    await this.host.publish(to, t.msg.content, republishOptions(t.msg, next));
    this.settleOriginal(t);
  }

  private async deadLetter(t: Tracker, reason: string): Promise<void> {
    this.assertLive(t, 'reject');
    await this.moveToDeadLetter(t, reason);
  }

  private async moveToDeadLetter(t: Tracker, reason: string): Promise<void> {
    const target = await this.host.targetOf(this.o.deadLetter);
    const headers: Record<string, string> = {
      [HEADERS.deadLetterReason]: reason.slice(0, 4000),
      [HEADERS.deadLetterAttempts]: String(t.attempt),
      [HEADERS.deadLetterSource]: formatDestination(this.source),
      [HEADERS.deadLetterSourceRef]: `${this.queue}#${t.receipt}`,
    };
    await this.host.publish(target, t.msg.content, republishOptions(t.msg, 1, headers));
    this.settleOriginal(t);
  }

  private settleOriginal(t: Tracker): void {
    if (this.isLive(t) && !t.done) {
      try {
        t.ch.ack(t.msg);
      } catch {
        /* channel gone: a duplicate will follow, at-least-once */
      }
    }
    this.finish(t);
  }

  private async poll(max: number, waitMs: number, signal: AbortSignal | undefined): Promise<Delivery[]> {
    if (this.closed) throw closedError(`consumer of ${formatDestination(this.source)}`);
    const deadline = Date.now() + waitMs;
    const out: Delivery[] = [];
    for (;;) {
      const ch = await this.slot.get(undefined, signal);
      while (out.length < max) {
        let m: amqp.GetMessage | false;
        try {
          m = await ch.get(this.queue, { noAck: false });
        } catch (err) {
          if (out.length) return out;
          throw classifyError(err);
        }
        if (m === false) break;
        out.push(this.toDelivery(ch, m));
      }
      if (out.length > 0) return out;
      const left = deadline - Date.now();
      if (left <= 0) return out;
      if (signal?.aborted) {
        if (this.closed) return out;
        throw abortedError(signal);
      }
      await sleep(Math.min(this.host.link.options.pollIntervalMs, left));
    }
  }

  /** A buffered delivery no handler saw: back to the queue with basic.nack(requeue). */
  private async release(d: Delivery): Promise<void> {
    const t = this.byDelivery.get(d);
    if (!t || t.done) return;
    if (this.isLive(t)) {
      try {
        t.ch.nack(t.msg, false, true);
      } catch {
        /* channel gone: requeued by the broker */
      }
    }
    this.finish(t);
  }

  /** The consumer channel died on its own (a channel error): drop its deliveries and consume again on a new one. */
  private channelDied(): void {
    if (this.closed) return;
    this.lost();
    void (async () => {
      for (let i = 0; !this.closed && this.host.link.isOpen && !this.consumerTag && this.push; i++) {
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
    for (const t of this.trackers) {
      if (t.timer) clearTimeout(t.timer);
      t.timer = undefined;
    }
    this.trackers.clear();
    this.consumerTag = undefined;
    this.slot.reset();
  }

  private recovering: Promise<void> | undefined;

  /** Re-opens the channel and re-consumes; concurrent calls share one attempt. */
  recover(): Promise<void> {
    this.recovering ??= (async () => {
      if (this.closed) return;
      await this.slot.get();
      if (this.push && !this.consumerTag) {
        this.starting = this.startConsume();
        await this.starting;
      }
    })().finally(() => {
      this.recovering = undefined;
    });
    return this.recovering;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stopPush();
    // Give deliveries the application still holds a moment to be settled on this channel.
    for (let waited = 0; this.trackers.size > 0 && waited < CLOSE_GRACE_MS && this.slot.peek(); waited += 50) await sleep(50);
    this.host.link.remove(this);
    this.host.forgetConsumer(this);
    for (const t of this.trackers) if (t.timer) clearTimeout(t.timer);
    this.trackers.clear();
    await this.slot.close();
  }
}
