import type { Capabilities } from './capabilities';
import { createConsumer, type ConsumerParts, type PushHandle, type PushTarget } from './consumer';
import { deadLetterHeaders } from './dead-letter';
import { silentDiagnostics, type Diagnostics } from './diagnostics';
import type { Tracing } from './tracing';
import { CoreDelivery, type DeliveryFields, type DeliveryOps } from './delivery';
import { formatDestination } from './destination';
import { closedError, SwitchboardError } from './errors';
import type { NormalizedMessage } from './message';
import type { ResolvedConsumerOptions } from './options';
import { DeadlineTimer, OpenList, type Listed } from './open-list';
import type { Consumer, Delivery, Destination, Headers } from './types';

/**
 * One message as a consumer driver hands it to core. `handle` is the driver's own reference
 * (a record, an AMQP message, a receipt handle); core gives it back on every settle.
 */
export interface InboundMessage<H> extends DeliveryFields {
  readonly handle: H;
}

/** Where a driver pushes messages once {@link ConsumerDriver.start} was called. */
export interface InboundSink<H> {
  deliver(message: InboundMessage<H>): void;
  /** The consumer cannot go on (e.g. its source was deleted): the subscription ends with `err`. */
  fail(err: unknown): void;
}

/**
 * The broker half of a consumer, written by each driver. Core builds the public Consumer, its
 * deliveries and their settle contract on top, and calls each method at most once per message.
 *
 * Flow control is the driver's: it never hands out more than `prefetch` unsettled messages.
 * In at-most-once mode it settles each message with the broker before handing it over.
 */
export interface ConsumerDriver<H> {
  /**
   * Mechanisms the broker does itself. Where a flag is absent core emulates it: an ack deadline
   * timer per delivery (expiry = a failed attempt), and `extend` as a restart of that timer.
   */
  readonly native?: { readonly ackTimeout?: boolean; readonly extend?: boolean };
  /**
   * The broker has no acknowledgements (core NATS): every message is settled on receipt, whatever
   * the consumer's ack mode, and core hands out deliveries that are already acked.
   */
  readonly settlesOnReceipt?: boolean;
  /** Starts pushing messages into `sink`. Errors go to `sink.fail`. */
  start(sink: InboundSink<H>): void;
  /** Stops pushing; resolves once nothing more will arrive. */
  stop(): Promise<void>;
  /**
   * Pulls up to `max`, waiting up to `waitMs` for the first (long polling). Absent: core polls
   * over the push stream, taking from what the driver has pushed.
   */
  fetch?(max: number, waitMs: number, signal: AbortSignal | undefined): Promise<InboundMessage<H>[]>;
  /** Done: never delivered again to this group. */
  ack(handle: H): Promise<void>;
  /**
   * Deliver again, with attempt + 1, no sooner than `delayMs` from now (0: at once). When core
   * calls this for an expired ack deadline it does not retry a rejection: a broker that takes the
   * message back by itself (a queue whose channel died) redelivers it, and a driver over a log,
   * where nothing would, must retry the hand-back itself.
   */
  retry(handle: H, delayMs: number): Promise<void>;
  /**
   * Store a copy with `headers` (the message's own plus core's dead-letter set) on `to`, then
   * settle the original. Core decides when: attempts used up, reject, or ack timeout.
   */
  deadLetter(handle: H, to: Destination, headers: Headers): Promise<void>;
  /**
   * Native extend (only called when `native.extend`): push the broker's deadline `ms` from now.
   * A driver that declares `native.extend` without `native.ackTimeout` gets both: core restarts its
   * emulated timer and calls this, e.g. to keep a broker-side backstop deadline from firing first.
   */
  extend?(handle: H, ms: number): Promise<void>;
  /**
   * Give the message back. `seen: false`: no handler saw it (buffered), so no attempt is counted
   * where the broker allows. `seen: true`: a handler held it past the close grace without settling
   * it, which counts as an attempt.
   */
  release(handle: H, how: { readonly seen: boolean }): Promise<void>;
  /** Leave the group and free resources; unsettled messages go back to the broker. */
  close(): Promise<void>;
  /**
   * At-most-once only: the application took this (already settled) message from the subscription
   * or a poll. A driver that counts such messages against `prefetch` until then frees a slot here,
   * so a slow handler is not buried under messages already removed from the broker.
   */
  taken?(handle: H): void;
}

/** What the engine needs from its connection. */
export interface ConsumerEngineContext {
  readonly source: Destination;
  readonly options: ResolvedConsumerOptions;
  readonly capabilities: Capabilities;
  /** Sends a reply to a request's reply-to address. */
  reply(replyTo: string, correlationId: string | undefined, message: NormalizedMessage): Promise<void>;
  /** At most this long close waits for handed-out deliveries to be settled before releasing them (default: 1000 ms, or less when the close deadline is nearer). */
  closeGraceMs?: number;
  /** Where background failures and handler errors are reported (default: silent). */
  diagnostics?: Diagnostics;
  /** Consumer spans around `consume` handlers (default: none). */
  tracing?: Tracing;
  /** Called once the consumer has closed, with the consumer {@link createDriverConsumer} returned. */
  onClosed?(consumer: Consumer): void;
}

/**
 * The engine's state of one delivery it handed out (the delivery's own state in {@link CoreDelivery}).
 * Unsettled ones sit on the consumer's open list, ordered by ack deadline when core emulates it;
 * while a settle of one is on its way to the broker it sits on the settling list instead.
 */
interface Tracked<H> extends Listed<Tracked<H>> {
  readonly m: InboundMessage<H>;
  expired: boolean;
  done: boolean;
  /** At-most-once, for a driver that counts untaken messages: not taken by the application yet. */
  untaken: boolean;
}

type SettleVerb = 'ack' | 'nack' | 'reject';

interface PollWaiter {
  wake(): void;
}

const UNSEEN = { seen: false } as const;
const SEEN = { seen: true } as const;

/**
 * Builds the public Consumer from a driver's parts. Core owns, once for every backend: the
 * delivery settle contract, attempts and `maxAttempts`, the dead-letter header set, emulated ack
 * deadlines and `extend`, polling over a push stream, releasing buffered messages, and the close
 * grace for deliveries the application still holds.
 */
export function createDriverConsumer<H>(driver: ConsumerDriver<H>, ctx: ConsumerEngineContext): Consumer {
  const engine = new DriverConsumer(driver, ctx);
  const consumer = createConsumer(engine, ctx.diagnostics ?? silentDiagnostics, ctx.tracing);
  engine.consumer = consumer;
  ctx.options.signal?.addEventListener('abort', () => void consumer.close(), { once: true });
  return consumer;
}

/**
 * Core's half of one consumer over a driver (see {@link createDriverConsumer}): the parts the
 * public consumer is built on, the sink the driver pushes into, the settle operations of every
 * delivery it hands out, and the handle that stops pushing, all one object. A class, not closures:
 * a service that listens to many destinations holds one per destination, so its state is a few
 * fields and its behaviour lives on the prototype.
 */
class DriverConsumer<H> implements ConsumerParts, PushHandle, InboundSink<H>, DeliveryOps<Tracked<H>> {
  readonly source: Destination;
  readonly group: string;
  readonly capabilities: Capabilities;
  private readonly o: ResolvedConsumerOptions;
  private readonly atMostOnce: boolean;
  private readonly open = new OpenList<Tracked<H>>();
  /**
   * Deliveries whose settle is on its way to the broker: close still waits for them, but they have
   * no deadline, so they stay off the deadline-ordered open list (a new delivery is inserted from
   * its tail, and must not walk past every ack in flight).
   */
  private readonly settling = new OpenList<Tracked<H>>();
  /** Emulated ack deadlines (absent in at-most-once mode and where the broker has its own). */
  private readonly deadlines: DeadlineTimer<Tracked<H>> | undefined;
  private closed = false;
  // Push routing: to the open subscription, else (when polling over push) to the poll buffer.
  private started = false;
  private target: PushTarget | undefined;
  private polling = false;
  /** Messages pushed while only polls listen (made by the first). */
  private buffer: InboundMessage<H>[] | undefined;
  /** Polls waiting over push (made by the first that waits). */
  private waiters: Set<PollWaiter> | undefined;
  private failure: unknown;
  /** The public consumer built on this one, given to `ctx.onClosed`. */
  consumer: Consumer | undefined;

  constructor(
    private readonly driver: ConsumerDriver<H>,
    private readonly ctx: ConsumerEngineContext,
  ) {
    this.source = ctx.source;
    this.o = ctx.options;
    this.group = ctx.options.group;
    this.capabilities = ctx.capabilities;
    this.atMostOnce = this.o.ackMode === 'at-most-once' || driver.settlesOnReceipt === true;
    this.deadlines = !this.atMostOnce && !driver.native?.ackTimeout ? new DeadlineTimer<Tracked<H>>(this.open, this) : undefined;
  }

  private get what(): string {
    return `consumer of ${formatDestination(this.source)}`;
  }

  /** Reports a failure of work nobody awaits (the broker keeps the message, or redelivers it). */
  private background(m: InboundMessage<H>, doing: string): (err: unknown) => void {
    return (err) =>
      (this.ctx.diagnostics ?? silentDiagnostics).report(
        { origin: 'background', error: err, destination: formatDestination(this.source), group: this.o.group, messageId: m.id, attempt: m.attempt },
        `${this.what}: ${doing} failed`,
      );
  }

  /** {@link ConsumerParts}: the application took `d` from the subscription or a poll. */
  taken(d: Delivery): void {
    const t = CoreDelivery.stateOf<Tracked<H>>(d);
    if (!t?.untaken) return;
    t.untaken = false;
    this.driver.taken?.(t.m.handle);
  }

  private finish(t: Tracked<H>): void {
    t.done = true;
    t.on?.remove(t);
  }

  private guard(t: Tracked<H>, verb: string): void {
    if (t.expired) throw new SwitchboardError('timeout', `cannot ${verb}: the ack deadline of this delivery passed and it was handed out again`);
    if (t.done) throw closedError(`${this.what} (the delivery was released when the consumer closed)`);
  }

  private async deadLetter(t: Tracked<H>, reason: string): Promise<void> {
    const headers = deadLetterHeaders(t.m.headers, {
      reason,
      attempts: t.m.attempt,
      source: formatDestination(this.source),
      sourceRef: t.m.receipt,
    });
    await this.driver.deadLetter(t.m.handle, this.o.deadLetter, headers);
  }

  private attemptsUsed(t: Tracked<H>): boolean {
    return this.o.maxAttempts !== undefined && t.m.attempt >= this.o.maxAttempts;
  }

  /** {@link DeadlineTimer}'s owner: the emulated ack deadline of `t` passed, the attempt failed. */
  expire(t: Tracked<H>): void {
    t.expired = true;
    t.done = true;
    const used = this.attemptsUsed(t);
    const after = used ? this.deadLetter(t, `ack timeout after ${this.o.ackTimeoutMs} ms (attempt ${t.m.attempt} of ${this.o.maxAttempts})`) : this.driver.retry(t.m.handle, 0);
    // A failed hand-back leaves the message with the broker, which redelivers it.
    after.catch(this.background(t.m, used ? 'dead-lettering at the ack timeout' : 'handing back at the ack timeout'));
  }

  /** What the broker does for each settle: an ack, a retry or dead letter, a dead letter. */
  private settleAtBroker(t: Tracked<H>, verb: SettleVerb, delayMs: number | undefined, reason: string | undefined): Promise<void> {
    if (verb === 'ack') return this.driver.ack(t.m.handle);
    if (verb === 'reject') return this.deadLetter(t, `rejected: ${reason}`);
    return this.attemptsUsed(t) ? this.deadLetter(t, reason ?? `failed ${t.m.attempt} of ${this.o.maxAttempts} attempts`) : this.driver.retry(t.m.handle, delayMs ?? 0);
  }

  /**
   * Settles `t` at the broker. Meanwhile it waits on the settling list (close waits for it) with its
   * deadline stopped; a failed settle puts it back on the open list, pending, with its deadline
   * running again. Promise reactions, not an async function: on every delivery's path, that is one
   * promise and one suspended frame fewer per settle (about 0.5 KB less allocated per message on memory://).
   */
  private settleWith(t: Tracked<H>, verb: SettleVerb, delayMs?: number, reason?: string): Promise<void> {
    try {
      this.guard(t, verb);
    } catch (err) {
      return Promise.reject(err);
    }
    const due = t.due;
    const listed = t.on === this.open;
    if (listed) {
      this.open.remove(t);
      t.due = Infinity;
      this.settling.add(t);
    }
    let sent: Promise<void>;
    try {
      sent = this.settleAtBroker(t, verb, delayMs, reason);
    } catch (err) {
      sent = Promise.reject(err);
    }
    return sent.then(
      () => this.finish(t),
      (err: unknown) => {
        if (!t.done && listed) {
          this.settling.remove(t);
          t.due = due;
          this.open.add(t);
          this.deadlines?.watch(t);
        }
        throw err;
      },
    );
  }

  /** {@link DeliveryOps}: every delivery of this consumer settles at the broker through the driver. */
  ack(t: Tracked<H>): Promise<void> {
    return this.settleWith(t, 'ack');
  }

  nack(t: Tracked<H>, delayMs: number | undefined, reason: string | undefined): Promise<void> {
    return this.settleWith(t, 'nack', delayMs, reason);
  }

  reject(t: Tracked<H>, reason: string): Promise<void> {
    return this.settleWith(t, 'reject', undefined, reason);
  }

  async extend(t: Tracked<H>, ms: number): Promise<void> {
    this.guard(t, 'extend');
    // An emulated deadline restarts here; a native extend also pushes the broker's own deadline
    // (a driver may emulate per-member deadlines over a broker backstop it extends as well).
    if (this.deadlines) this.deadlines.restart(t, ms);
    if (this.driver.native?.extend && this.driver.extend) await this.driver.extend(t.m.handle, ms);
  }

  respond(_t: Tracked<H>, replyTo: string, correlationId: string | undefined, message: NormalizedMessage): Promise<void> {
    return this.ctx.reply(replyTo, correlationId, message);
  }

  private toDelivery(m: InboundMessage<H>): Delivery {
    const atMostOnce = this.atMostOnce;
    const t: Tracked<H> = { m, due: Infinity, prev: undefined, next: undefined, on: undefined, expired: false, done: atMostOnce, untaken: atMostOnce && this.driver.taken !== undefined };
    const d = new CoreDelivery<Tracked<H>>(m, this.source.name, atMostOnce, this, t);
    if (!atMostOnce) {
      if (this.deadlines) t.due = performance.now() + this.o.ackTimeoutMs;
      this.open.add(t);
      this.deadlines?.watch(t);
    }
    return d;
  }

  /**
   * A message handed out past this consumer's `maxAttempts` already used up the attempts it allows:
   * its last attempt ran out a native ack deadline (SQS visibility, JetStream ack_wait), which has
   * no callback, or failed at another member of the group that allows more. It is dead-lettered
   * here, not handed out, so the decision stays with core, per member, for every driver.
   */
  private overdue(m: InboundMessage<H>): boolean {
    const o = this.o;
    if (this.atMostOnce || o.maxAttempts === undefined || m.attempt <= o.maxAttempts) return false;
    const headers = deadLetterHeaders(m.headers, {
      reason: this.driver.native?.ackTimeout
        ? `ack timeout after ${o.ackTimeoutMs} ms (attempt ${m.attempt - 1} of ${o.maxAttempts})`
        : `${m.attempt - 1} attempts failed, and this consumer allows ${o.maxAttempts}`,
      attempts: m.attempt - 1,
      source: formatDestination(this.source),
      sourceRef: m.receipt,
    });
    // A failed dead-lettering leaves the message with the broker, which hands it out again.
    this.driver.deadLetter(m.handle, o.deadLetter, headers).catch(this.background(m, 'dead-lettering a message past maxAttempts'));
    return true;
  }

  private releaseMessage(m: InboundMessage<H>): Promise<void> {
    return this.atMostOnce ? Promise.resolve() : this.driver.release(m.handle, UNSEEN);
  }

  /** {@link InboundSink}: the driver pushed `m`. */
  deliver(m: InboundMessage<H>): void {
    if (this.overdue(m)) return;
    const target = this.target;
    if (target) {
      target.push(this.toDelivery(m));
      return;
    }
    if (this.closed) {
      void this.releaseMessage(m).catch(this.background(m, 'releasing a message that arrived after close'));
      return;
    }
    if (this.polling) {
      (this.buffer ??= []).push(m);
      for (const w of this.waiters ?? []) w.wake();
      return;
    }
    void this.releaseMessage(m).catch(this.background(m, 'releasing a message nobody asked for'));
  }

  /** {@link InboundSink}: the driver cannot go on. */
  fail(err: unknown): void {
    this.failure = err;
    this.target?.fail(err);
    for (const w of this.waiters ?? []) w.wake();
  }

  private ensureStarted(): void {
    if (this.started) return;
    this.started = true;
    this.driver.start(this);
  }

  private async stopIfIdle(): Promise<void> {
    if (!this.started || this.target || this.polling) return;
    this.started = false;
    await this.driver.stop();
  }

  private async pollOverPush(max: number, waitMs: number, signal: AbortSignal | undefined): Promise<Delivery[]> {
    this.polling = true;
    this.ensureStarted();
    const buffered = () => this.buffer?.length ?? 0;
    // A poll that may not wait still gives the driver one turn of the event loop to hand over what it holds.
    if (buffered() === 0 && waitMs <= 0) await new Promise((r) => setImmediate(r));
    if (buffered() === 0 && waitMs > 0 && this.failure === undefined) {
      await new Promise<void>((resolve) => {
        const w: PollWaiter = { wake: () => done() };
        const timer = setTimeout(() => done(), waitMs);
        const done = () => {
          clearTimeout(timer);
          this.waiters?.delete(w);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        (this.waiters ??= new Set()).add(w);
        signal?.addEventListener('abort', done, { once: true });
      });
      // Messages that arrive together come back together.
      if (buffered() > 0 && buffered() < max) await new Promise((r) => setImmediate(r));
    }
    if (buffered() === 0 && this.failure !== undefined) throw this.failure;
    return (this.buffer?.splice(0, max) ?? []).map((m) => this.toDelivery(m));
  }

  /** {@link ConsumerParts}: push into `target` (a subscription); what a poll left buffered goes first. */
  startPush(target: PushTarget): PushHandle {
    this.target = target;
    const left = this.buffer?.splice(0);
    if (left) for (const m of left) target.push(this.toDelivery(m));
    this.ensureStarted();
    return this;
  }

  /** {@link PushHandle}: the subscription closed. */
  async stop(): Promise<void> {
    this.target = undefined;
    await this.stopIfIdle();
  }

  /** {@link ConsumerParts}: pull through the driver's fetch, or over the push stream. */
  async poll(max: number, waitMs: number, signal: AbortSignal | undefined): Promise<Delivery[]> {
    const driver = this.driver;
    const got = driver.fetch ? (await driver.fetch(max, waitMs, signal)).filter((m) => !this.overdue(m)).map((m) => this.toDelivery(m)) : await this.pollOverPush(max, waitMs, signal);
    for (const d of got) this.taken(d);
    return got;
  }

  /** {@link ConsumerParts}: gives `d` back to the broker. */
  async release(d: Delivery, how: { readonly seen: boolean } = UNSEEN): Promise<void> {
    const t = CoreDelivery.stateOf<Tracked<H>>(d);
    if (!t || t.done) return;
    this.finish(t);
    await this.driver.release(t.m.handle, how);
  }

  /** {@link ConsumerParts}: stops the driver, gives back what is left after the grace, closes the driver. */
  async close(graceMs: () => number): Promise<void> {
    this.closed = true;
    this.polling = false;
    this.target = undefined;
    for (const w of this.waiters ?? []) w.wake();
    if (this.started) {
      this.started = false;
      await this.driver.stop().catch(() => undefined);
    }
    await Promise.allSettled((this.buffer?.splice(0) ?? []).map((m) => this.releaseMessage(m)));
    // Deliveries the application still holds get a moment to be settled, then go back.
    const grace = Math.min(this.ctx.closeGraceMs ?? Number.POSITIVE_INFINITY, graceMs());
    for (let waited = 0; this.open.size + this.settling.size > 0 && waited < grace; waited += 25) await new Promise((r) => setTimeout(r, 25));
    this.deadlines?.stop();
    const left = [...this.open.drain(), ...this.settling.drain()];
    for (const t of left) t.done = true;
    await Promise.allSettled(left.map((t) => this.driver.release(t.m.handle, SEEN)));
    try {
      await this.driver.close();
    } finally {
      if (this.consumer) this.ctx.onClosed?.(this.consumer);
    }
  }
}
