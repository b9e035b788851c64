import { ReceiveMessageCommand, type Message, type MessageSystemAttributeName } from '@aws-sdk/client-sqs';
import { formatDestination, SwitchboardError, type Destination, type Headers } from '@switchboard/core';
import { type ConsumerDriver, type InboundMessage, type InboundSink, type NormalizedMessage, type ResolvedConsumerOptions } from '@switchboard/core/driver';
import { decodeMessage, type DecodedMessage } from './codec';
import { MAX_VISIBILITY_SECONDS, type SqsContext } from './context';
import { classifyError } from './errors';
import type { PhysicalName } from './names';

/** What core hands back on every settle: the receipt handle, the queue it came from, the message. */
export interface SqsHandle {
  readonly receiptHandle: string;
  readonly queueUrl: string;
  readonly message: DecodedMessage;
}

export interface SqsConsumerInit {
  readonly ctx: SqsContext;
  readonly source: Destination;
  /** The SQS queue this consumer receives from (the queue itself, or the group queue of a topic). */
  readonly queue: PhysicalName;
  readonly options: ResolvedConsumerOptions;
  /** (Re-)creates the queue, and for topics the subscription; resolves with the queue URL. */
  provision(): Promise<string>;
  /** Sends a message to a destination (dead letters). */
  sendTo(to: Destination, message: NormalizedMessage): Promise<void>;
}

const ALL_ATTRIBUTES = ['All'];
const SYSTEM_ATTRIBUTES: MessageSystemAttributeName[] = ['ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp', 'SentTimestamp', 'MessageGroupId', 'SequenceNumber'];

/**
 * Where a wait registers to be cut short: it gets back a function that unregisters it. Built from an
 * AbortSignal ({@link onAbort}) or, in the receive lanes, from a plain set of callbacks (an idle
 * consumer then keeps no AbortController and no event listener per receive).
 */
type CutShort = (cut: () => void) => () => void;

const onAbort =
  (signal: AbortSignal): CutShort =>
  (cut) => {
    if (signal.aborted) {
      cut();
      return () => undefined;
    }
    signal.addEventListener('abort', cut, { once: true });
    return () => signal.removeEventListener('abort', cut);
  };

const sleep = (ms: number, cutShort?: CutShort) =>
  new Promise<void>((resolve) => {
    let over = false;
    let unregister: (() => void) | undefined;
    const t = setTimeout(done, ms);
    unregister = cutShort?.(done);
    if (over) unregister?.();
    function done() {
      over = true;
      clearTimeout(t);
      unregister?.();
      resolve();
    }
  });

/** SQS's longest long poll; an idle consumer's receives wait this long (see `start`). */
const MAX_WAIT_SECONDS = 20;

/** How long after its visibility ran out a delivery still held by a handler keeps its prefetch slot (see `holding`). */
const HAND_BACK_MS = 1000;

/**
 * The wait of an idle consumer's receives: SQS's 20 s, and always a second and more
 * inside `requestTimeoutMs` (a long poll cut off by the request timeout is abandoned while the
 * server may still hand it a message), and never below `receiveWaitSeconds`.
 */
const idleWaitLimit = (o: { receiveWaitSeconds: number; requestTimeoutMs: number }): number =>
  Math.max(o.receiveWaitSeconds, Math.min(MAX_WAIT_SECONDS, Math.floor((o.requestTimeoutMs - 1001) / 1000)));

const visibilityLimit = (what: string) => new SwitchboardError('invalid_argument', `${what} is over SQS's 12-hour visibility limit`);

/** A delivery counted against prefetch: its visibility deadline, and the heartbeat that extends it. */
interface Held {
  deadline: number;
  heartbeat?: NodeJS.Timeout;
}

/** The state of a consumer's push receive lanes, from `start` to `stop`. */
interface Lanes {
  readonly sink: InboundSink<SqsHandle>;
  stopped: boolean;
  /** Receive slots taken by calls in flight. */
  reserved: number;
  /** Whether receives bring messages (the lanes other than 0 run only then). */
  backlog: boolean;
  /** The lanes running now (lane 0 always; the others only during a backlog). */
  readonly running: Map<number, Promise<void>>;
  /** What stop cuts short: the receives in flight and the sleeps of the lanes. */
  readonly onStop: Set<() => void>;
  readonly cutShort: CutShort;
  /** How many lanes may run: one receive returns at most 10, so a large prefetch gets parallel ones. */
  readonly count: number;
  /** The wait of a receive after an empty one ({@link idleWaitLimit}). */
  readonly idleWait: number;
}

const NATIVE = { ackTimeout: true, extend: true } as const;

/**
 * The SQS half of a consumer. The visibility timeout is the ack deadline and ChangeMessageVisibility
 * the extend (both native); ReceiveMessage long polling is the native `fetch`. Receives are never
 * aborted mid-flight (an abandoned long poll can still take a message on the server and hide it for
 * the visibility timeout), so stopping does not wait for it either: the receive in flight is left to
 * finish on its own, and whatever it still brings is made visible again at once (after
 * `minRedeliverySeconds`). Receives go through the context's receive client, on sockets of their
 * own. An idle consumer has one receive in flight; the other lanes join while receives bring messages.
 */
export async function createSqsConsumer(init: SqsConsumerInit): Promise<ConsumerDriver<SqsHandle>> {
  return new SqsConsumer(init, await init.provision());
}

/**
 * The driver as a class: its methods live once on the prototype, so each of many idle consumers
 * costs its fields only (at K=500, closures per consumer were a measurable part of the heap).
 */
class SqsConsumer implements ConsumerDriver<SqsHandle> {
  readonly native = NATIVE;
  private readonly ctx: SqsContext;
  private readonly o: ResolvedConsumerOptions;
  private readonly visibility: number;
  private readonly atMostOnce: boolean;
  /**
   * Deliveries counted against prefetch: unsettled ones (receipt handle -> visibility deadline and
   * heartbeat), and at-most-once ones the application has not taken yet (deadline Infinity).
   */
  private readonly held = new Map<string, Held>();
  private readonly capacityWaiters = new Set<() => void>();
  private closed = false;
  /** Ends the receives of `fetch` on close; made by the first fetch (most consumers only push). */
  private closing: AbortController | undefined;
  private reprovisioning: Promise<void> | undefined;
  private lanes: Lanes | undefined;

  constructor(
    private readonly init: SqsConsumerInit,
    private queueUrl: string,
  ) {
    this.ctx = init.ctx;
    this.o = init.options;
    this.visibility = Math.min(MAX_VISIBILITY_SECONDS, Math.max(1, Math.ceil(this.o.ackTimeoutMs / 1000)));
    this.atMostOnce = this.o.ackMode === 'at-most-once';
  }

  /**
   * How many deliveries count against prefetch. A delivery whose visibility ran out while its
   * handler still has it stops counting only HAND_BACK_MS later: the message is visible again on
   * the queue by then, and a receive that another member of the group has waiting takes it first.
   * Without the pause this member, whose handler is stuck, asks again the moment its own deadline
   * passes and often wins the message back (conformance RD6 on FIFO: attempts 2 to 7 all went to
   * the stuck member).
   */
  private holding(): number {
    const now = Date.now();
    for (const [h, e] of this.held) if (e.deadline + HAND_BACK_MS <= now && !e.heartbeat) this.held.delete(h);
    return this.held.size;
  }

  private letGo(h: SqsHandle): void {
    const e = this.held.get(h.receiptHandle);
    if (e?.heartbeat) clearInterval(e.heartbeat);
    this.held.delete(h.receiptHandle);
    for (const w of this.capacityWaiters) w();
    this.capacityWaiters.clear();
  }

  private settled<T>(h: SqsHandle, p: Promise<T>): Promise<T> {
    return p.finally(() => this.letGo(h));
  }

  private hold(handle: string, url: string): void {
    const e: Held = { deadline: Date.now() + this.visibility * 1000 };
    if (this.ctx.options.heartbeat) {
      const ms = this.visibility * 1000;
      e.heartbeat = setInterval(() => {
        e.deadline = Date.now() + ms;
        void this.ctx.changeVisibility(url, handle, this.visibility).catch(() => undefined);
      }, Math.max(500, ms / 2)).unref();
    }
    this.held.set(handle, e);
  }

  private reprovision(): Promise<void> {
    return (this.reprovisioning ??= (async () => {
      this.ctx.forgetQueue(this.init.queue.name);
      this.queueUrl = await this.init.provision();
    })().finally(() => {
      this.reprovisioning = undefined;
    }));
  }

  /** Gives back what a receive nobody waits for any more brings: visible again after minRedeliverySeconds. */
  private giveBack(p: Promise<Message[]>, url: string): void {
    void p.then(
      (messages) => {
        for (const m of messages) if (m.ReceiptHandle) void this.ctx.changeVisibility(url, m.ReceiptHandle, this.ctx.options.minRedeliverySeconds).catch(() => undefined);
      },
      () => undefined,
    );
  }

  /**
   * The receive's messages, or none as soon as it is cut short (stop, close, an aborted poll): the
   * call itself goes on, and what it brings is given back ({@link giveBack}).
   */
  private receive(max: number, waitSeconds: number, cutShort?: CutShort): Promise<Message[]> {
    const url = this.queueUrl;
    const p = this.receiveNow(max, waitSeconds);
    if (!cutShort) return p;
    return new Promise<Message[]>((resolve, reject) => {
      let cut = false;
      const unregister = cutShort(() => {
        if (cut) return;
        cut = true;
        this.giveBack(p, url);
        resolve([]);
      });
      p.then(
        (m) => {
          unregister();
          resolve(m);
        },
        (err: unknown) => {
          unregister();
          reject(err);
        },
      );
    });
  }

  private call(max: number, waitSeconds: number) {
    return this.ctx.receiver.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: Math.min(10, max),
        WaitTimeSeconds: waitSeconds,
        VisibilityTimeout: this.visibility,
        MessageAttributeNames: ALL_ATTRIBUTES,
        MessageSystemAttributeNames: SYSTEM_ATTRIBUTES,
      }),
    );
  }

  private async receiveNow(max: number, waitSeconds: number): Promise<Message[]> {
    try {
      return (await this.call(max, waitSeconds)).Messages ?? [];
    } catch (err) {
      const e = classifyError(err, `receiving from ${formatDestination(this.init.source)}`);
      if (e.code !== 'not_found' || this.closed) throw e;
      // The queue vanished (deleted, emulator restarted): provision it again and go on.
      await this.reprovision();
      return (await this.call(max, waitSeconds)).Messages ?? [];
    }
  }

  private async sendDeadLetter(h: SqsHandle, to: Destination, headers: Headers): Promise<void> {
    await this.init.sendTo(to, { id: h.message.id, body: h.message.body, key: h.message.key, headers, delayMs: undefined });
    await this.ctx.deleteMessage(h.queueUrl, h.receiptHandle);
  }

  /**
   * Turns received messages into inbound ones. Messages with an emulated delay still ahead are
   * hidden until then; at-most-once messages are deleted first. (A message whose visibility ran out
   * on its last attempt comes back past maxAttempts, and core dead-letters it.)
   */
  private async inbound(messages: Message[]): Promise<InboundMessage<SqsHandle>[]> {
    const now = Date.now();
    const out: InboundMessage<SqsHandle>[] = [];
    const url = this.queueUrl;
    const ctx = this.ctx;
    for (const m of messages) {
      if (!m.ReceiptHandle) continue;
      const decoded = decodeMessage(m, { envelope: this.init.source.kind === 'topic' });
      let attempt = Number(m.Attributes?.ApproximateReceiveCount ?? '1') || 1;
      if (decoded.notBefore !== undefined) {
        if (decoded.notBefore > now + 20) {
          const secs = Math.min(MAX_VISIBILITY_SECONDS, Math.ceil((decoded.notBefore - now) / 1000));
          await ctx.changeVisibility(url, m.ReceiptHandle, secs).catch(() => undefined);
          continue;
        }
        // The receive that hid it early was no attempt.
        const first = Number(m.Attributes?.ApproximateFirstReceiveTimestamp ?? '0');
        if (first && first < decoded.notBefore && attempt > 1) attempt -= 1;
      }
      const handle: SqsHandle = { receiptHandle: m.ReceiptHandle, queueUrl: url, message: decoded };
      const messageId = m.MessageId ?? '';
      const sent = Number(m.Attributes?.SentTimestamp ?? '');
      out.push({
        handle,
        id: decoded.id,
        body: decoded.body,
        key: decoded.key,
        headers: decoded.headers,
        attempt: Math.max(1, attempt),
        receipt: messageId,
        timestamp: Number.isFinite(sent) && sent > 0 ? new Date(sent) : new Date(),
        replyTo: decoded.replyTo,
        correlationId: decoded.correlationId,
      });
    }
    if (this.atMostOnce) {
      // Settled before the application sees them; a failed delete is not delivered (it comes back).
      // They count against prefetch until the application takes them (core calls `taken`).
      const deleted = await Promise.allSettled(out.map((m) => ctx.deleteMessage(url, m.handle.receiptHandle)));
      const kept = out.filter((_, i) => deleted[i]!.status === 'fulfilled');
      for (const m of kept) this.held.set(m.handle.receiptHandle, { deadline: Infinity });
      return kept;
    }
    for (const m of out) this.hold(m.handle.receiptHandle, url);
    return out;
  }

  /**
   * Push: receive lanes that never hold more than prefetch unsettled deliveries. Lane 0 always
   * receives; the others start when a receive brings messages and end once one comes back empty,
   * so an idle consumer holds one long poll (one socket) and one lane, not eight.
   * The first receive waits `receiveWaitSeconds`; after an empty one the next waits 20 s (see
   * `idleWaitLimit`), so an idle consumer costs one call per 20 s, as a plain long-poll loop; a
   * message brings the wait back to `receiveWaitSeconds`.
   */
  start(sink: InboundSink<SqsHandle>): void {
    if (this.lanes) return;
    const onStop = new Set<() => void>();
    const lanes: Lanes = {
      sink,
      stopped: false,
      reserved: 0,
      backlog: false,
      running: new Map(),
      onStop,
      cutShort: (cut) => {
        if (lanes.stopped) {
          cut();
          return () => undefined;
        }
        onStop.add(cut);
        return () => onStop.delete(cut);
      },
      count: Math.min(8, Math.max(1, Math.ceil(this.o.prefetch / 10))),
      idleWait: idleWaitLimit(this.ctx.options),
    };
    this.lanes = lanes;
    this.spawn(lanes, 0);
  }

  private spawn(lanes: Lanes, index: number): void {
    if (lanes.running.has(index)) return;
    const p = (index > 0 ? sleep(index * 20, lanes.cutShort).then(() => this.lane(lanes, index)) : this.lane(lanes, index)).finally(() => lanes.running.delete(index));
    lanes.running.set(index, p);
  }

  private free(lanes: Lanes): number {
    return this.o.prefetch - this.holding() - lanes.reserved;
  }

  private async lane(lanes: Lanes, index: number): Promise<void> {
    const options = this.ctx.options;
    let backoff = 100;
    let wait = options.receiveWaitSeconds;
    // The first lane receives once a quarter of the prefetch is free (at most 10); the others only
    // for a full batch of 10. A freed slot does not cost a receive call of its own.
    const room = index === 0 ? Math.max(1, Math.min(10, Math.floor(this.o.prefetch / 4))) : 10;
    // Lanes other than 0 end when a receive comes back empty; the next backlog starts them again.
    while (!lanes.stopped && (index === 0 || lanes.backlog)) {
      while (!lanes.stopped && this.free(lanes) < room) {
        await new Promise<void>((resolve) => {
          this.capacityWaiters.add(resolve);
          // Visibility deadlines pass without an event: look again now and then.
          setTimeout(resolve, 250).unref();
        });
      }
      if (lanes.stopped) break;
      const n = Math.min(10, this.free(lanes));
      lanes.reserved += n;
      let got: InboundMessage<SqsHandle>[];
      try {
        const messages = await this.receive(n, wait, lanes.cutShort);
        // After an empty receive the next one waits SQS's 20 s; a message brings it back to the slice.
        wait = messages.length === 0 ? lanes.idleWait : options.receiveWaitSeconds;
        if (messages.length === 0) lanes.backlog = false;
        else if (!lanes.backlog) {
          // Messages are coming: the other lanes help (a FIFO receive may bring one message group
          // at a time, so a partial batch is no sign of an empty queue).
          lanes.backlog = true;
          for (let i = 1; i < lanes.count; i++) this.spawn(lanes, i);
        }
        got = await this.inbound(messages);
        backoff = 100;
      } catch (err) {
        const e = classifyError(err, `receiving from ${formatDestination(this.init.source)}`);
        if (e.code === 'auth' || e.code === 'invalid_argument') {
          if (!lanes.stopped) lanes.sink.fail(e);
          lanes.stopped = true;
          return;
        }
        await sleep(backoff, lanes.cutShort);
        backoff = Math.min(2000, backoff * 2);
        continue;
      } finally {
        lanes.reserved -= n;
      }
      for (const m of got) lanes.sink.deliver(m);
    }
  }

  async stop(): Promise<void> {
    const lanes = this.lanes;
    this.lanes = undefined;
    if (!lanes) return;
    lanes.stopped = true;
    for (const cut of [...lanes.onStop]) cut();
    lanes.onStop.clear();
    for (const w of this.capacityWaiters) w();
    this.capacityWaiters.clear();
    while (lanes.running.size) await Promise.all(lanes.running.values());
  }

  /** Long polls in whole-second slices while a second is left, then 50 ms short polls, so the wait is about waitMs. */
  async fetch(max: number, waitMs: number, pollSignal: AbortSignal | undefined): Promise<InboundMessage<SqsHandle>[]> {
    // Close (or the poll's own signal) ends the wait at once; see `receive`.
    const closing = (this.closing ??= new AbortController());
    if (this.closed) closing.abort();
    const signal = pollSignal ? AbortSignal.any([pollSignal, closing.signal]) : closing.signal;
    const cutShort = onAbort(signal);
    const deadline = Date.now() + waitMs;
    const out: InboundMessage<SqsHandle>[] = [];
    for (;;) {
      const remaining = deadline - Date.now();
      const wait = remaining >= 1000 ? Math.min(this.ctx.options.receiveWaitSeconds, Math.floor(remaining / 1000)) : 0;
      const got = await this.inbound(await this.receive(Math.min(10, max - out.length), wait, cutShort));
      out.push(...got);
      if (out.length >= max) break;
      if (out.length > 0) {
        // Top up without waiting when a full batch came back.
        if (got.length < 10) break;
        continue;
      }
      if (signal.aborted || this.closed || Date.now() >= deadline) break;
      if (wait === 0) await sleep(Math.min(50, deadline - Date.now()), cutShort);
    }
    return out;
  }

  ack(h: SqsHandle): Promise<void> {
    return this.settled(h, this.ctx.deleteMessage(h.queueUrl, h.receiptHandle));
  }

  async retry(h: SqsHandle, delayMs: number): Promise<void> {
    const secs = Math.max(this.ctx.options.minRedeliverySeconds, Math.ceil(delayMs / 1000));
    if (secs > MAX_VISIBILITY_SECONDS) throw visibilityLimit(`nack delayMs ${delayMs}`);
    return this.settled(h, this.ctx.changeVisibility(h.queueUrl, h.receiptHandle, secs));
  }

  deadLetter(h: SqsHandle, to: Destination, headers: Headers): Promise<void> {
    return this.settled(h, this.sendDeadLetter(h, to, headers));
  }

  async extend(h: SqsHandle, ms: number): Promise<void> {
    const secs = Math.ceil(ms / 1000);
    if (secs > MAX_VISIBILITY_SECONDS) throw visibilityLimit(`extend(${ms})`);
    await this.ctx.changeVisibility(h.queueUrl, h.receiptHandle, secs);
    const e = this.held.get(h.receiptHandle);
    if (e) e.deadline = Date.now() + secs * 1000;
  }

  release(h: SqsHandle): Promise<void> {
    return this.settled(h, this.ctx.changeVisibility(h.queueUrl, h.receiptHandle, this.ctx.options.minRedeliverySeconds));
  }

  taken(h: SqsHandle): void {
    this.letGo(h);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closing?.abort();
    await this.stop();
    for (const e of this.held.values()) if (e.heartbeat) clearInterval(e.heartbeat);
    this.held.clear();
  }
}
