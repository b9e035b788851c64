import type { Consumer, Delivery } from '@switchboard/core';
import { check, CheckFailure, sleep, waitUntil } from './check';

/** `n` message ids: `<prefix>-0` ... `<prefix>-(n-1)`. */
export const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

export interface ReceivedItem {
  delivery: Delivery;
  at: number;
}

export interface ReceiverOptions {
  /** What to do with each delivery (default: ack it). Throwing is recorded, not fatal. */
  onDelivery?: (d: Delivery, r: Receiver) => Promise<void> | void;
}

/**
 * Subscribes and records every delivery with its arrival time, so cases can wait for counts and
 * check that nothing more arrives.
 */
export class Receiver {
  readonly items: ReceivedItem[] = [];
  readonly errors: unknown[] = [];
  private readonly loop: Promise<void>;
  private readonly sub: import('@switchboard/core').Subscription;

  constructor(
    readonly consumer: Consumer,
    options: ReceiverOptions = {},
  ) {
    const onDelivery = options.onDelivery ?? ((d: Delivery) => d.ack());
    const sub = consumer.subscribe();
    this.sub = sub;
    this.loop = (async () => {
      try {
        for await (const d of sub) {
          this.items.push({ delivery: d, at: Date.now() });
          try {
            await onDelivery(d, this);
          } catch (err) {
            this.errors.push(err);
          }
        }
      } catch (err) {
        this.errors.push(err);
      }
    })();
  }

  get deliveries(): Delivery[] {
    return this.items.map((i) => i.delivery);
  }

  ids(): string[] {
    return this.items.map((i) => i.delivery.id);
  }

  uniqueIds(): Set<string> {
    return new Set(this.ids());
  }

  count(id: string): number {
    return this.items.reduce((n, i) => n + (i.delivery.id === id ? 1 : 0), 0);
  }

  /** Waits until `n` distinct message ids have arrived. */
  async waitForUnique(n: number, timeoutMs: number, what = 'messages', signal?: AbortSignal): Promise<void> {
    await waitUntil(() => this.uniqueIds().size >= n, timeoutMs, () => `${n} distinct ${what} (got ${this.uniqueIds().size})`, signal);
  }

  async waitFor(predicate: (r: Receiver) => boolean, timeoutMs: number, what: string, signal?: AbortSignal): Promise<void> {
    await waitUntil(() => predicate(this), timeoutMs, () => what, signal);
  }

  /** Checks that no delivery arrives for `ms`. */
  async expectQuiet(ms: number, what: string, signal?: AbortSignal): Promise<void> {
    const before = this.items.length;
    await sleep(ms, signal);
    if (this.items.length !== before) {
      const extra = this.items.slice(before).map((i) => `${i.delivery.id}#${i.delivery.attempt}`);
      throw new CheckFailure(`${what}: ${extra.length} unexpected deliveries within ${ms} ms (${extra.slice(0, 5).join(', ')})`);
    }
  }

  /** Fails if `ids` contains one that was delivered but not sent. */
  checkOnly(allowed: Set<string>, what: string): void {
    const foreign = this.ids().filter((id) => !allowed.has(id));
    check(foreign.length === 0, `${what}: received ${foreign.length} messages that were not sent there (${foreign.slice(0, 3).join(', ')})`);
  }

  async close(): Promise<void> {
    await this.sub.close();
    await this.loop;
  }
}
