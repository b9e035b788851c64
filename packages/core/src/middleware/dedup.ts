import { admittingConsumer } from '../admitting-consumer';
import type { Consumer, Delivery } from '../types';

/**
 * Remembers which message ids were handled. `claim` must be atomic for the ids of one group:
 * exactly one caller gets `true` until the claim is released or expires.
 */
export interface DedupStore {
  /** true: go ahead and handle; false: handled already (or being handled). */
  claim(id: string, ttlMs: number): Promise<boolean>;
  /** The message was handled: remember the id for `ttlMs`. */
  commit(id: string, ttlMs: number): Promise<void>;
  /** Handling failed: forget the claim so a redelivery is handled. */
  release(id: string): Promise<void>;
}

/** A process-local DedupStore (a Map with expiry). Enough for one process; share a real store across processes. */
export class MemoryDedupStore implements DedupStore {
  private readonly entries = new Map<string, number>();
  constructor(private readonly now: () => number = Date.now) {}

  async claim(id: string, ttlMs: number): Promise<boolean> {
    this.sweep();
    const exp = this.entries.get(id);
    if (exp !== undefined && exp > this.now()) return false;
    this.entries.set(id, this.now() + ttlMs);
    return true;
  }
  async commit(id: string, ttlMs: number): Promise<void> {
    this.entries.set(id, this.now() + ttlMs);
  }
  async release(id: string): Promise<void> {
    this.entries.delete(id);
  }
  get size(): number {
    return this.entries.size;
  }
  private sweep(): void {
    if (this.entries.size < 10_000) return;
    const t = this.now();
    for (const [k, exp] of this.entries) if (exp <= t) this.entries.delete(k);
  }
}

export interface DedupOptions {
  store?: DedupStore;
  /** How long a handled id is remembered (default 10 minutes). */
  ttlMs?: number;
  /** How long a claim holds while a handler runs (default 5 minutes). */
  claimTtlMs?: number;
  /** The dedup key of a delivery (default: its message id). */
  keyOf?: (d: Delivery) => string;
  /** Called for each duplicate dropped, e.g. to count them. */
  onDuplicate?: (d: Delivery) => void;
}

/**
 * Consumer middleware for effectively-once handling: a delivery whose id was handled already is
 * acked and never reaches the application. An id counts as handled once its delivery was acked;
 * a nack or reject releases the claim, so redeliveries are handled as usual.
 * It covers duplicates from producer retries and broker redelivery within `ttlMs`; it does not
 * make the handler's own side effects atomic with the ack.
 */
export function withDedup(consumer: Consumer, options: DedupOptions = {}): Consumer {
  const store = options.store ?? new MemoryDedupStore();
  const ttl = options.ttlMs ?? 600_000;
  const claimTtl = options.claimTtlMs ?? 300_000;
  const keyOf = options.keyOf ?? ((d: Delivery) => d.id);

  /** Returns the delivery to hand on, or undefined when it was a duplicate (then acked). */
  const admit = async (d: Delivery): Promise<Delivery | undefined> => {
    const key = keyOf(d);
    if (!(await store.claim(key, claimTtl))) {
      options.onDuplicate?.(d);
      if (d.state === 'pending') await d.ack();
      return undefined;
    }
    if (d.state === 'acked') { await store.commit(key, ttl); return d; }
    return Object.create(d, {
      ack: { value: async () => { await d.ack(); await store.commit(key, ttl); } },
      nack: { value: async (o?: Parameters<Delivery['nack']>[0]) => { await store.release(key); await d.nack(o); } },
      reject: { value: async (r: string) => { await store.release(key); await d.reject(r); } },
    }) as Delivery;
  };

  return admittingConsumer(consumer, admit);
}
