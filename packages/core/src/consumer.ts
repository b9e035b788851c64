import { Fifo } from './fifo';
import { CloseDeadline, HAND_BACK_MS, sleep } from './close-deadline';
import { silentDiagnostics, type Diagnostics } from './diagnostics';
import type { Tracing } from './tracing';
import { formatDestination } from './destination';
import { abortedError, closedError, SwitchboardError, throwIfAborted } from './errors';
import type { CloseOptions, ConsumeHandle, ConsumeOptions, Consumer, Delivery, Destination, PollOptions, Subscription } from './types';

/** What an adapter provides; {@link createConsumer} builds the public Consumer on top. */
export interface ConsumerParts {
  readonly source: Destination;
  readonly group: string;
  /** Starts push delivery into `target`. The adapter bounds unacked deliveries by prefetch. */
  startPush(target: PushTarget): PushHandle;
  /** Pull up to `max`, waiting up to `waitMs` for the first. */
  poll(max: number, waitMs: number, signal: AbortSignal | undefined): Promise<Delivery[]>;
  /**
   * Returns a delivery to the broker. `seen: false` (default): it reached the buffer but no handler,
   * so no attempt is counted where the broker allows. `seen: true`: a handler held it past the close
   * deadline. Either way a later settle of it fails with `closed`.
   */
  release(delivery: Delivery, how?: { readonly seen: boolean }): Promise<void>;
  /**
   * Leaves the group and frees the adapter's resources; unacked deliveries go back to the broker
   * once `graceMs()` (read when the wait starts) has passed.
   */
  close(graceMs: () => number): Promise<void>;
  /** The application took this delivery from the subscription (it left the buffer). */
  taken?(delivery: Delivery): void;
}

/** Where an adapter pushes deliveries once {@link ConsumerParts.startPush} was called. */
export interface PushTarget {
  push(delivery: Delivery): void;
  /** The push stream failed: the subscription ends with `err` once its buffer is empty. */
  fail(err: unknown): void;
}

export interface PushHandle {
  /** Stops pushing; resolves once nothing more will arrive. */
  stop(): Promise<void>;
}

/** How long close waits for deliveries the application holds outside `consume` (subscription, poll). */
const DEFAULT_HELD_GRACE_MS = 1000;
const SEEN = { seen: true } as const;

/**
 * The shared Consumer contract: one subscription at a time, `consume` as resolve = ack / throw = nack,
 * graceful idempotent close that waits for handlers in flight, `closed` errors afterwards.
 */
export function createConsumer(parts: ConsumerParts, diagnostics: Diagnostics = silentDiagnostics, tracing?: Tracing): Consumer {
  return new CoreConsumer(parts, diagnostics, tracing);
}

/**
 * The public consumer (see {@link createConsumer}). A class: an application that listens to many
 * destinations holds one per destination, so its state is a few fields and its behaviour lives on
 * the prototype; what only some consumers need (consume handles, polls, the close deadline) is
 * made when first needed.
 */
class CoreConsumer implements Consumer {
  readonly source: Destination;
  readonly group: string;
  /**
   * An own function, not a prototype method: `close` keeps working when the application passes it
   * around unbound (a signal handler), as the rest of the public API does.
   */
  readonly close: (options?: CloseOptions) => Promise<void>;
  private closed = false;
  private closing: Promise<void> | undefined;
  private active: PushSubscription | undefined;
  /** Consume loops, the ones that ended dropped as the next starts (made by the first `consume`). */
  private runs: ConsumeRun[] | undefined;
  /** Polls waiting now (made by the first poll), aborted by close. */
  private polls: Set<AbortController> | undefined;
  /** Made by the first close: an idle consumer holds no timer, promise or state for it. */
  private deadline: CloseDeadline | undefined;

  constructor(
    private readonly parts: ConsumerParts,
    private readonly diagnostics: Diagnostics,
    private readonly tracing: Tracing | undefined,
  ) {
    this.source = parts.source;
    this.group = parts.group;
    this.close = (options) => this.closeConsumer(options);
  }

  private assertOpen(): void {
    if (this.closed) throw closedError(`consumer of ${this.parts.source.kind} ${this.parts.source.name}`);
  }

  private openSubscription(signal: AbortSignal | undefined): PushSubscription {
    this.assertOpen();
    if (this.active && !this.active.isClosed) throw new SwitchboardError('invalid_argument', 'this consumer already has an open subscription; close it or create another consumer');
    throwIfAborted(signal);
    const sub = new PushSubscription(this.parts);
    this.active = sub;
    signal?.addEventListener('abort', () => void sub.close(), { once: true });
    return sub;
  }

  subscribe(options?: { signal?: AbortSignal }): Subscription {
    return this.openSubscription(options?.signal);
  }

  consume(handler: (delivery: Delivery) => Promise<void> | void, options?: ConsumeOptions): ConsumeHandle {
    const concurrency = consumeConcurrency(options);
    const sub = this.openSubscription(options?.signal);
    const parts = this.parts;
    const report = new DiagnosticsReport(this.diagnostics, { destination: formatDestination(parts.source), group: parts.group });
    const run = new ConsumeRun(sub, handler, concurrency, parts, report, this.tracing);
    const runs = (this.runs ??= []);
    for (let i = runs.length - 1; i >= 0; i--) if (runs[i]!.ended) runs.splice(i, 1);
    runs.push(run);
    return consumeHandle(run, options?.signal);
  }

  async poll(options: PollOptions = {}): Promise<Delivery[]> {
    this.assertOpen();
    const max = options.max ?? 10;
    const waitMs = options.waitMs ?? 0;
    if (!Number.isInteger(max) || max < 1) throw new SwitchboardError('invalid_argument', 'poll max must be a positive integer');
    if (!Number.isFinite(waitMs) || waitMs < 0) throw new SwitchboardError('invalid_argument', 'poll waitMs must be a non-negative number');
    throwIfAborted(options.signal);
    const ac = new AbortController();
    const onAbort = () => ac.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    (this.polls ??= new Set()).add(ac);
    try {
      const got = await this.parts.poll(max, waitMs, ac.signal);
      if (options.signal?.aborted) {
        await Promise.all(got.map((d) => this.parts.release(d)));
        throw abortedError(options.signal);
      }
      return got;
    } finally {
      this.polls?.delete(ac);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  private closeConsumer(options?: CloseOptions): Promise<void> {
    const dl = (this.deadline ??= new CloseDeadline());
    try {
      dl.set(options);
    } catch (err) {
      return Promise.reject(err);
    }
    // Every open consume loop hears about a shorter deadline too.
    for (const r of this.runs ?? []) if (!r.ended) r.close({ timeoutMs: dl.remaining() }).catch(() => undefined);
    this.closing ??= this.shutDown(dl);
    return this.closing;
  }

  private async shutDown(dl: CloseDeadline): Promise<void> {
    this.closed = true;
    for (const p of this.polls ?? []) p.abort(closedError('consumer'));
    const work = (async () => {
      await Promise.allSettled((this.runs ?? []).filter((r) => !r.ended).map((r) => r.close({ timeoutMs: dl.remaining() })));
      if (this.active) await this.active.close();
      await this.parts.close(() => Math.min(DEFAULT_HELD_GRACE_MS, dl.remaining()));
    })();
    // Past the deadline, handing back and leaving get a bounded moment; the broker redelivers the rest.
    await Promise.race([work, dl.passed.then(() => sleep(HAND_BACK_MS))]);
    dl.dispose();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * `consume`'s side of a subscription: deliveries go to it as they arrive while it has room, with
 * no iterator result or promise per delivery; the others wait in the subscription's buffer.
 */
interface Taker {
  /** Room for one more delivery now. */
  canTake(): boolean;
  take(d: Delivery): void;
  /** Something to look at: a delivery was buffered, or the subscription failed or closed. */
  wake(): void;
}

class PushSubscription implements Subscription, PushTarget {
  private readonly buffer = new Fifo<Delivery>();
  private waiter: { resolve: (r: IteratorResult<Delivery>) => void; reject: (e: unknown) => void } | undefined;
  private taker: Taker | undefined;
  /** Set when the push stream failed; `next()` (or consume's loop) raises it once the buffer is empty. */
  failure: unknown;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly handle: PushHandle;

  constructor(private readonly parts: ConsumerParts) {
    this.handle = parts.startPush(this);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Hands arrivals to `taker` (consume's loop) instead of the iterator; undefined: back to the iterator. */
  drive(taker: Taker | undefined): void {
    this.taker = taker;
  }

  /** The oldest buffered delivery, taken by the application; undefined when none is buffered. */
  takeBuffered(): Delivery | undefined {
    const d = this.buffer.shift();
    if (d) this.parts.taken?.(d);
    return d;
  }

  get buffered(): number {
    return this.buffer.length;
  }

  /** {@link PushTarget}: a delivery arrived. */
  push(d: Delivery): void {
    if (this.closed) {
      void this.parts.release(d).catch(() => undefined);
      return;
    }
    const taker = this.taker;
    if (taker) {
      if (this.buffer.length === 0 && taker.canTake()) {
        this.parts.taken?.(d);
        taker.take(d);
      } else {
        this.buffer.push(d);
        taker.wake();
      }
      return;
    }
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      this.parts.taken?.(d);
      w.resolve({ value: d, done: false });
    } else {
      this.buffer.push(d);
    }
  }

  /** {@link PushTarget}: the push stream failed. */
  fail(err: unknown): void {
    this.failure = err;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(err);
    }
    this.taker?.wake();
  }

  private next(): Promise<IteratorResult<Delivery>> {
    const d = this.takeBuffered();
    if (d) return Promise.resolve({ value: d, done: false });
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    return {
      next: () => this.next(),
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      await this.handle.stop();
      const left = this.buffer.drain();
      await Promise.allSettled(left.map((d) => this.parts.release(d)));
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w.resolve({ value: undefined, done: true });
      }
      this.taker?.wake();
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Validates consume options before anything is opened. */
function consumeConcurrency(options: ConsumeOptions | undefined): number {
  const concurrency = options?.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new SwitchboardError('invalid_argument', 'consume concurrency must be a positive integer');
  return concurrency;
}

/** Where a consume loop reports what goes wrong (the consumer's diagnostics, with its destination and group). */
interface ConsumeReport {
  handlerFailed(d: Delivery, err: unknown): void;
  settleFailed(d: Delivery, verb: string, err: unknown): void;
  loopFailed(err: unknown): void;
}

/** {@link ConsumeReport} through a consumer's diagnostics: one object per loop, its methods shared. */
class DiagnosticsReport implements ConsumeReport {
  constructor(
    private readonly diagnostics: Diagnostics,
    private readonly where: { readonly destination: string; readonly group: string },
  ) {}

  handlerFailed(d: Delivery, err: unknown): void {
    const where = this.where;
    this.diagnostics.report({ origin: 'handler', error: err, ...where, messageId: d.id, attempt: d.attempt }, `handler failed on ${where.destination}; the delivery was nacked`);
  }

  settleFailed(d: Delivery, verb: string, err: unknown): void {
    const where = this.where;
    this.diagnostics.report(
      { origin: 'background', error: err, ...where, messageId: d.id, attempt: d.attempt },
      `${verb} failed on ${where.destination}; the broker keeps the message and delivers it again`,
      // After a close deadline handed the delivery back, a late settle is expected to fail.
      err instanceof SwitchboardError && err.code === 'closed' ? 'debug' : 'warn',
    );
  }

  loopFailed(err: unknown): void {
    this.diagnostics.report({ origin: 'consumer', error: err, ...this.where }, `consumer of ${this.where.destination} ended with an error`, 'error');
  }
}

/** The application's handle on one consume loop; `signal` closes it. */
function consumeHandle(run: ConsumeRun, signal: AbortSignal | undefined): ConsumeHandle {
  // A closure, not a prototype method: `close` keeps working when the application passes it around
  // unbound (a signal handler, `using`), as the rest of the public API does. Dispose is the same
  // function, called without options.
  const close = (closeOptions?: CloseOptions) => run.close(closeOptions);
  signal?.addEventListener('abort', () => void close(), { once: true });
  return { done: run.done, close, [Symbol.asyncDispose]: close };
}

/**
 * One consume loop: runs `handler` over a subscription with bounded concurrency. Resolve = ack,
 * throw = nack, each only when the handler left the delivery pending. Deliveries with one key
 * never run at once: a delivery whose key is being handled waits behind it and runs when it is
 * done, so per-key order survives `concurrency > 1`. `close()` stops intake, then waits for
 * handlers in flight and those queued behind them, up to the close deadline; past it, every
 * unsettled delivery goes back to the broker and the loop ends without waiting for the stuck
 * handlers.
 *
 * A class, not closures: an idle consumer holds one of
 * these per `consume`, so its state is a few fields and its behaviour lives on the prototype, and
 * what only some loops need (the set of deliveries in hand, keyed waiting, the close deadline) is
 * made when first needed.
 */
class ConsumeRun implements Taker {
  /** Handlers running now, and keyed deliveries whose settle is on its way (their key is still held). */
  private running = 0;
  /** Unkeyed deliveries whose handler finished and whose ack or nack is on its way to the broker. */
  private settling = 0;
  /** Deliveries whose handler runs now (made by the first delivery). */
  private inHand: Set<Delivery> | undefined;
  /** Per key being handled: the deliveries of that key waiting their turn, in arrival order. */
  private waitingByKey: Map<string, Delivery[]> | undefined;
  private stopping = false;
  /** Wakes the loop when a handler slot frees, close begins, or the last handler finished. */
  private waker: (() => void) | undefined;
  private deadlineOf: CloseDeadline | undefined;
  /** Set once the deadline passed and every unsettled delivery was handed back. */
  private abandoned: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  readonly done: Promise<void>;
  /** Set once the loop ended and every handler it ran finished or was handed back. */
  ended = false;

  constructor(
    private readonly sub: PushSubscription,
    private readonly handler: (d: Delivery) => Promise<void> | void,
    private readonly concurrency: number,
    private readonly parts: ConsumerParts,
    private readonly report: ConsumeReport,
    private readonly tracing: Tracing | undefined,
  ) {
    this.done = this.loop();
    // `done` rejects for whoever awaits it; nobody awaiting it is not an unhandled rejection: the
    // failure is reported (logger, onError) instead.
    this.done.catch((err: unknown) => report.loopFailed(err));
  }

  private get deadline(): CloseDeadline {
    return (this.deadlineOf ??= new CloseDeadline());
  }

  /** {@link Taker}: room for one more delivery now. */
  canTake(): boolean {
    return !this.stopping && this.running < this.concurrency;
  }

  /** {@link Taker}: something to look at. */
  wake(): void {
    const w = this.waker;
    this.waker = undefined;
    w?.();
  }

  private nextWake(): Promise<void> {
    return new Promise<void>((resolve) => (this.waker = resolve));
  }

  private finished(d: Delivery): void {
    this.inHand?.delete(d);
    this.running--;
    if (d.key !== undefined && !this.abandoned) {
      const next = this.waitingByKey?.get(d.key)?.shift();
      if (next) this.start(next);
      else this.waitingByKey?.delete(d.key);
    }
    this.wake();
  }

  /** The settle of an unkeyed delivery, on its way after its handler freed the slot, is done. */
  private settled(): void {
    this.settling--;
    if (this.settling === 0) this.wake();
  }

  /** {@link settled} as one callback for every settle of this loop, not a closure per delivery. */
  private readonly onSettled = (): void => this.settled();

  /**
   * Runs the handler of `d` and settles it. An unkeyed delivery's slot frees once the handler
   * finished and its ack or nack was sent, so the broker's round trip does not hold a handler slot
   * (close still waits for it); a keyed delivery's slot, and with it the next of its key, waits for
   * the settle to be confirmed.
   */
  private handle(d: Delivery): void {
    let result: unknown;
    try {
      const tracing = this.tracing;
      if (tracing?.active()) {
        const { source, group } = this.parts;
        result = tracing.process(d, source, group, async () => this.handler(d));
      } else result = this.handler(d);
    } catch (err) {
      this.afterHandler(d, true, err);
      return;
    }
    // A handler that returned at once goes on without a tick; one that returned a promise, when it
    // settles. Another thenable is adopted by a native promise first, which calls back once even
    // when its `then` calls both callbacks, twice, or throws.
    if (result instanceof Promise)
      result.then(
        () => this.afterHandler(d, false),
        (err: unknown) => this.afterHandler(d, true, err),
      );
    else if (isThenable(result))
      Promise.resolve(result).then(
        () => this.afterHandler(d, false),
        (err: unknown) => this.afterHandler(d, true, err),
      );
    else this.afterHandler(d, false);
  }

  /** Settles `d` when its handler did not (ack, or nack when the handler failed) and frees its slot as {@link handle} says. */
  private afterHandler(d: Delivery, failed: boolean, err?: unknown): void {
    let settle: Promise<void> | undefined;
    let verb = 'ack';
    try {
      if (failed) {
        this.report.handlerFailed(d, err);
        if (d.state === 'pending') {
          verb = 'nack';
          settle = d.nack({ reason: err instanceof Error ? err.message : String(err) });
        }
      }
      // A failed ack is not the handler's failure: the message stays with the broker, which delivers it again.
      if (!settle && d.state === 'pending') settle = d.ack();
    } finally {
      if (!settle) this.finished(d);
      else if (d.key !== undefined) {
        settle.then(
          () => this.finished(d),
          (e: unknown) => {
            this.report.settleFailed(d, verb, e);
            this.finished(d);
          },
        );
      } else {
        this.settling++;
        settle.then(this.onSettled, (e: unknown) => {
          this.report.settleFailed(d, verb, e);
          this.settled();
        });
        this.finished(d);
      }
    }
  }

  private start(d: Delivery): void {
    (this.inHand ??= new Set()).add(d);
    this.running++;
    this.handle(d);
  }

  /** {@link Taker}: takes `d` now, or queues it behind the delivery of its key being handled. */
  take(d: Delivery): void {
    if (d.key !== undefined) {
      const waiting = (this.waitingByKey ??= new Map());
      const queue = waiting.get(d.key);
      if (queue) {
        queue.push(d);
        return;
      }
      waiting.set(d.key, []);
    }
    this.start(d);
  }

  private abandon(): Promise<void> {
    return (this.abandoned ??= (async () => {
      const queued = this.waitingByKey ? [...this.waitingByKey.values()].flat() : [];
      this.waitingByKey?.clear();
      const held = [...(this.inHand ?? [])].filter((d) => d.state === 'pending');
      // Each goes back to the broker as seen: a handler held it past the deadline.
      await Promise.allSettled([...held, ...queued].map((d) => this.parts.release(d, SEEN)));
    })());
  }

  private async loop(): Promise<void> {
    const sub = this.sub;
    // Arrivals go straight to `take` while a handler slot is free; the loop only drains what
    // waited in the buffer, and ends on close, on the subscription's end or failure.
    sub.drive(this);
    try {
      for (;;) {
        while (this.canTake()) {
          const d = sub.takeBuffered();
          if (!d) break;
          this.take(d);
        }
        if (this.stopping) break;
        if (sub.buffered === 0) {
          if (sub.failure !== undefined) throw sub.failure;
          if (sub.isClosed) break;
        }
        await this.nextWake();
      }
    } finally {
      sub.drive(undefined);
      // Handlers in flight, and the ones queued behind them on a key, finish and settle, unless
      // the close deadline passes first.
      if (this.running > 0 || this.settling > 0) {
        const deadline = this.deadline;
        let passed = false;
        void deadline.passed.then(() => {
          passed = true;
          this.wake();
        });
        while ((this.running > 0 || this.settling > 0) && !passed) await this.nextWake();
        if (this.running > 0) await this.abandon();
      }
      this.deadlineOf?.dispose();
      this.ended = true;
    }
  }

  close(closeOptions?: CloseOptions): Promise<void> {
    try {
      this.deadline.set(closeOptions);
    } catch (err) {
      return Promise.reject(err);
    }
    this.closing ??= (async () => {
      this.stopping = true;
      this.wake();
      await Promise.race([this.sub.close(), this.deadline.passed]);
      await this.done.catch(() => undefined);
    })();
    return this.closing;
  }
}

/** Whether a handler's result is a promise (or another thenable) to wait for. */
function isThenable(x: unknown): x is PromiseLike<unknown> {
  return (typeof x === 'object' || typeof x === 'function') && x !== null && typeof (x as { then?: unknown }).then === 'function';
}
