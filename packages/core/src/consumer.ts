import { abortedError, closedError, SwitchboardError, throwIfAborted } from './errors';
import type { ConsumeHandle, ConsumeOptions, Consumer, Delivery, Destination, PollOptions, Subscription } from './types';

/** What an adapter provides; {@link createConsumer} builds the public Consumer on top. */
export interface ConsumerParts {
  source: Destination;
  group: string;
  /** Starts push delivery into `deliver`. The adapter bounds unacked deliveries by prefetch. */
  startPush(deliver: (d: Delivery) => void, fail: (err: unknown) => void): PushHandle;
  /** Pull up to `max`, waiting up to `waitMs` for the first. */
  poll(max: number, waitMs: number, signal: AbortSignal | undefined): Promise<Delivery[]>;
  /** Returns a delivery that reached the buffer but no handler: no attempt is counted where the broker allows. */
  release(delivery: Delivery): Promise<void>;
  /** Leaves the group and frees the adapter's resources; unacked deliveries go back to the broker. */
  close(): Promise<void>;
  /** The application took this delivery from the subscription (it left the buffer). */
  taken?(delivery: Delivery): void;
}

export interface PushHandle {
  /** Stops pushing; resolves once nothing more will arrive. */
  stop(): Promise<void>;
}

/**
 * The shared Consumer contract: one subscription at a time, `consume` as resolve = ack / throw = nack,
 * graceful idempotent close that waits for handlers in flight, `closed` errors afterwards.
 */
export function createConsumer(parts: ConsumerParts): Consumer {
  let closed = false;
  let closing: Promise<void> | undefined;
  let active: PushSubscription | undefined;
  const handles = new Set<ConsumeHandle>();
  const polls = new Set<AbortController>();

  const assertOpen = () => {
    if (closed) throw closedError(`consumer of ${parts.source.kind} ${parts.source.name}`);
  };

  const consumer: Consumer = {
    source: parts.source,
    group: parts.group,
    subscribe(options) {
      assertOpen();
      if (active && !active.isClosed) throw new SwitchboardError('invalid_argument', 'this consumer already has an open subscription; close it or create another consumer');
      throwIfAborted(options?.signal);
      const sub = new PushSubscription(parts);
      active = sub;
      options?.signal?.addEventListener('abort', () => void sub.close(), { once: true });
      return sub;
    },
    consume(handler, options) {
      const concurrency = consumeConcurrency(options);
      const sub = consumer.subscribe({ signal: options?.signal });
      const h = runConsume(sub, handler, options ?? {}, concurrency);
      handles.add(h);
      void h.done.finally(() => handles.delete(h));
      return h;
    },
    async poll(options: PollOptions = {}) {
      assertOpen();
      const max = options.max ?? 10;
      const waitMs = options.waitMs ?? 0;
      if (!Number.isInteger(max) || max < 1) throw new SwitchboardError('invalid_argument', 'poll max must be a positive integer');
      if (!Number.isFinite(waitMs) || waitMs < 0) throw new SwitchboardError('invalid_argument', 'poll waitMs must be a non-negative number');
      throwIfAborted(options.signal);
      const ac = new AbortController();
      const onAbort = () => ac.abort(options.signal?.reason);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      polls.add(ac);
      try {
        const got = await parts.poll(max, waitMs, ac.signal);
        if (options.signal?.aborted) {
          await Promise.all(got.map((d) => parts.release(d)));
          throw abortedError(options.signal);
        }
        return got;
      } finally {
        polls.delete(ac);
        options.signal?.removeEventListener('abort', onAbort);
      }
    },
    close() {
      closing ??= (async () => {
        closed = true;
        for (const p of polls) p.abort(closedError('consumer'));
        await Promise.allSettled([...handles].map((h) => h.close()));
        if (active) await active.close();
        await parts.close();
      })();
      return closing;
    },
    [Symbol.asyncDispose]() {
      return consumer.close();
    },
  };
  return consumer;
}

class PushSubscription implements Subscription {
  private readonly buffer: Delivery[] = [];
  private waiter: { resolve: (r: IteratorResult<Delivery>) => void; reject: (e: unknown) => void } | undefined;
  private failure: unknown;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly handle: PushHandle;

  constructor(private readonly parts: ConsumerParts) {
    this.handle = parts.startPush(
      (d) => this.push(d),
      (err) => this.fail(err),
    );
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private push(d: Delivery): void {
    if (this.closed) {
      void this.parts.release(d).catch(() => undefined);
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

  private fail(err: unknown): void {
    this.failure = err;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(err);
    }
  }

  private next(): Promise<IteratorResult<Delivery>> {
    const d = this.buffer.shift();
    if (d) {
      this.parts.taken?.(d);
      return Promise.resolve({ value: d, done: false });
    }
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
      const left = this.buffer.splice(0);
      await Promise.allSettled(left.map((d) => this.parts.release(d)));
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w.resolve({ value: undefined, done: true });
      }
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

/**
 * Runs `handler` over a subscription with bounded concurrency. Resolve = ack, throw = nack, each only
 * when the handler left the delivery pending. Deliveries with one key never run at once: a delivery
 * whose key is being handled waits behind it and runs when it is done, so per-key order survives
 * `concurrency > 1`. `close()` stops intake, then waits for handlers in flight and those queued
 * behind them.
 */
function runConsume(sub: Subscription, handler: (d: Delivery) => Promise<void> | void, options: ConsumeOptions, concurrency: number): ConsumeHandle {
  const running = new Set<Promise<void>>();
  /** Per key being handled: the deliveries of that key waiting their turn, in arrival order. */
  const waitingByKey = new Map<string, Delivery[]>();
  let stopping = false;

  const handle = async (d: Delivery) => {
    try {
      await handler(d);
      if (d.state === 'pending') await d.ack();
    } catch (err) {
      if (d.state === 'pending') await d.nack({ reason: err instanceof Error ? err.message : String(err) }).catch(() => undefined);
    }
  };

  const start = (d: Delivery): void => {
    const p = handle(d).finally(() => {
      running.delete(p);
      if (d.key === undefined) return;
      const next = waitingByKey.get(d.key)?.shift();
      if (next) start(next);
      else waitingByKey.delete(d.key);
    });
    running.add(p);
  };

  const take = (d: Delivery): void => {
    if (d.key !== undefined) {
      const queue = waitingByKey.get(d.key);
      if (queue) {
        queue.push(d);
        return;
      }
      waitingByKey.set(d.key, []);
    }
    start(d);
  };

  const loop = (async () => {
    const it = sub[Symbol.asyncIterator]();
    try {
      while (!stopping) {
        while (running.size >= concurrency) await Promise.race(running);
        if (stopping) break;
        const r = await it.next();
        if (r.done) break;
        take(r.value);
      }
    } finally {
      // Handlers in flight, and the ones queued behind them on a key, finish and settle.
      while (running.size > 0) await Promise.allSettled([...running]);
    }
  })();

  let closing: Promise<void> | undefined;
  const h: ConsumeHandle = {
    done: loop,
    close() {
      closing ??= (async () => {
        stopping = true;
        await sub.close();
        await loop.catch(() => undefined);
      })();
      return closing;
    },
    [Symbol.asyncDispose]() {
      return h.close();
    },
  };
  options.signal?.addEventListener('abort', () => void h.close(), { once: true });
  return h;
}
