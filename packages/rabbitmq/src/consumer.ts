import type * as amqp from 'amqplib';
import { SwitchboardError, type Destination, type Headers } from '@switchboard/core';
import type { ConsumerDriver, InboundMessage, InboundSink, ResolvedConsumerOptions } from '@switchboard/core/driver';
import { ChannelSlot, connectionLost } from './channels';
import { classifyError } from './classify-error';
import { decodeMessage, generatedId, republishOptions, type DecodedMessage } from './codec';
import { keepTrying, shared, sleep, type Recoverable } from './link';
import type { RabbitContext } from './session';
import type { Target } from './topology';

/** A delivery as the queue consumer holds it: only the channel it came on can settle it. */
export interface QueueHandle {
  readonly ch: amqp.Channel;
  readonly msg: amqp.Message;
  readonly attempt: number;
  /** Its Delivery id (generated for a message without `message_id`, and kept by its retries). */
  readonly id: string;
}

/**
 * The consumer driver of one queue (a mailbox, or a topic group's queue) on its own channel, so
 * `basic.qos(prefetch)` bounds what it holds unacked. Polling is `basic.get`, retried every
 * `pollIntervalMs` while waiting. A retry republishes the message with a confirm (through a TTL'd
 * delay queue when delayed) carrying attempt + 1 in `sb-attempt`, then acks the original:
 * RabbitMQ's redelivered flag is not a count. A dead letter is a confirmed publish of the copy
 * to the dead-letter target, then an ack. Ack deadlines and `extend` are core's (emulated).
 */
export class QueueConsumer implements ConsumerDriver<QueueHandle>, Recoverable {
  private readonly slot: ChannelSlot<amqp.Channel>;
  private readonly atMostOnce: boolean;
  private sink: InboundSink<QueueHandle> | undefined;
  private consumerTag: { ch: amqp.Channel; tag: string } | undefined;
  private starting: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly ctx: RabbitContext,
    /** The queue consumed. */
    readonly queue: string,
    o: ResolvedConsumerOptions,
  ) {
    this.atMostOnce = o.ackMode === 'at-most-once';
    this.slot = new ChannelSlot(
      ctx.link,
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
    this.ctx.link.add(this);
  }

  start(sink: InboundSink<QueueHandle>): void {
    this.sink = sink;
    this.starting = this.startConsume().catch((err: unknown) => sink.fail(classifyError(err)));
  }

  private async startConsume(): Promise<void> {
    if (this.closed || !this.sink) return;
    const ch = await this.slot.get();
    const r = await ch.consume(this.queue, (msg) => this.onMessage(ch, msg), { noAck: false });
    this.consumerTag = { ch, tag: r.consumerTag };
  }

  async stop(): Promise<void> {
    if (!this.sink) return;
    this.sink = undefined;
    await this.starting?.catch(() => undefined);
    const ct = this.consumerTag;
    this.consumerTag = undefined;
    if (ct && ct.ch === this.slot.peek()) await ct.ch.cancel(ct.tag).catch(() => undefined);
  }

  private onMessage(ch: amqp.Channel, msg: amqp.ConsumeMessage | null): void {
    if (msg === null) {
      // The broker cancelled the consumer: the queue was deleted.
      this.sink?.fail(new SwitchboardError('not_found', `RabbitMQ cancelled the consumer of queue "${this.queue}" (was it deleted?)`));
      return;
    }
    if (!this.sink) return void quietly(() => ch.nack(msg, false, true));
    if (this.atMostOnce) quietly(() => ch.ack(msg));
    this.sink.deliver(this.inbound(ch, msg));
  }

  /** A message without `message_id` gets a generated id; the others do not pay for one. */
  private readonly newId = (): string => generatedId(this.queue);

  /** The decoded message becomes the inbound one (one object per delivery, not a copy). */
  private inbound(ch: amqp.Channel, msg: amqp.Message): InboundMessage<QueueHandle> {
    const dec = decodeMessage(msg, this.newId) as DecodedMessage & { handle?: QueueHandle; receipt?: string };
    dec.handle = { ch, msg, attempt: dec.attempt, id: dec.id };
    dec.receipt = String(msg.fields.deliveryTag);
    return dec as InboundMessage<QueueHandle>;
  }

  /** `basic.get` up to `max`; while nothing is there, asks again every `pollIntervalMs` until `waitMs` passed. */
  async fetch(max: number, waitMs: number, signal: AbortSignal | undefined): Promise<InboundMessage<QueueHandle>[]> {
    const deadline = Date.now() + waitMs;
    const out: InboundMessage<QueueHandle>[] = [];
    for (;;) {
      const ch = await this.slot.get(undefined, signal);
      while (out.length < max) {
        let got: amqp.GetMessage | false;
        try {
          // at-most-once: the broker settles the message as it hands it out.
          got = await ch.get(this.queue, { noAck: this.atMostOnce });
        } catch (err) {
          if (out.length) return out;
          throw classifyError(err);
        }
        if (got === false) break;
        out.push(this.inbound(ch, got));
      }
      const left = deadline - Date.now();
      if (out.length > 0 || left <= 0 || signal?.aborted) return out;
      await sleep(Math.min(this.ctx.options.pollIntervalMs, left), signal);
    }
  }

  async ack(h: QueueHandle): Promise<void> {
    this.assertLive(h, 'ack');
    try {
      h.ch.ack(h.msg);
    } catch (err) {
      throw classifyError(err);
    }
  }

  /** Republishes with attempt + 1 (through a TTL'd delay queue when delayed), then acks the original. */
  async retry(h: QueueHandle, delayMs: number): Promise<void> {
    this.assertLive(h, 'nack');
    const here: Target = { exchange: '', routingKey: this.queue };
    const to: Target = delayMs > 0 ? { exchange: '', routingKey: await this.ctx.topology.delay(here, Math.round(delayMs)) } : here;
    await this.ctx.publish(to, h.msg.content, republishOptions(h.msg, h.attempt + 1, {}, h.id));
    this.settleOriginal(h);
  }

  async deadLetter(h: QueueHandle, to: Destination, headers: Headers): Promise<void> {
    this.assertLive(h, 'dead-letter');
    await this.ctx.publish(await this.ctx.targetOf(to), h.msg.content, republishOptions(h.msg, 1, headers, h.id));
    this.settleOriginal(h);
  }

  /** Back to the queue with `basic.nack(requeue)`; a dead channel already gave it back. */
  async release(h: QueueHandle): Promise<void> {
    if (this.isLive(h)) quietly(() => h.ch.nack(h.msg, false, true));
  }

  private isLive(h: QueueHandle): boolean {
    return h.ch === this.slot.peek();
  }

  /** A delivery of a lost channel cannot be settled: the broker gives it out again. */
  private assertLive(h: QueueHandle, what: string): void {
    if (!this.isLive(h)) throw connectionLost(`cannot ${what}`);
  }

  /** The copy is stored: ack the original (a lost channel means a duplicate follows, at-least-once). */
  private settleOriginal(h: QueueHandle): void {
    if (this.isLive(h)) quietly(() => h.ch.ack(h.msg));
  }

  /** The consumer channel died on its own (a channel error): consume again on a new one. */
  private channelDied(): void {
    if (this.closed) return;
    this.lost();
    void keepTrying(this.recover, () => !this.closed && this.ctx.link.isOpen && !this.consumerTag && this.sink !== undefined);
  }

  lost(): void {
    this.consumerTag = undefined;
    this.slot.reset();
  }

  /** Re-opens the channel and re-consumes; concurrent calls share one attempt. */
  readonly recover = shared(async () => {
    if (this.closed) return;
    await this.slot.get();
    if (this.sink && !this.consumerTag) {
      this.starting = this.startConsume();
      await this.starting;
    }
  });

  /** Closing the channel gives back whatever it still holds. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stop();
    this.ctx.link.remove(this);
    await this.slot.close();
  }
}

/** Settles on a channel that may be gone: then the broker has already taken the message back. */
export function quietly(settle: () => void): void {
  try {
    settle();
  } catch {
    /* channel gone */
  }
}
