/** The outcome of one entry of a batch call: its result, or the error of that entry alone. */
export type EntryOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export interface BatcherOptions<T> {
  /** Entries per call (SQS/SNS: 10). */
  maxEntries: number;
  /** Bytes per call, when entries have a size (SQS/SNS: the payload limit). */
  maxBytes?: number;
  sizeOf?: (entry: T) => number;
  /** How long a partial batch waits for more entries while other calls are in flight. */
  lingerMs: number;
  /** Calls in flight at once. */
  concurrency: number;
}

interface Pending<T, R> {
  entry: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

/**
 * Groups single operations into batch calls (SendMessageBatch, PublishBatch, DeleteMessageBatch,
 * ChangeMessageVisibilityBatch). `add` resolves or rejects with that entry's own outcome: a
 * per-entry failure fails that entry only, a failed call fails all its entries; none is dropped.
 */
export class Batcher<T, R> {
  private queue: Pending<T, R>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = 0;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly run: (entries: T[]) => Promise<EntryOutcome<R>[]>,
    private readonly options: BatcherOptions<T>,
  ) {}

  add(entry: T): Promise<R> {
    const p = new Promise<R>((resolve, reject) => this.queue.push({ entry, resolve, reject }));
    this.schedule();
    return p;
  }

  /**
   * Adds several entries at once (one send of many messages): they are queued together before any
   * call goes out, so 100 entries are 10 full calls, not a lone first one and then the rest.
   */
  addAll(entries: readonly T[]): Promise<R>[] {
    const out = entries.map((entry) => new Promise<R>((resolve, reject) => this.queue.push({ entry, resolve, reject })));
    if (out.length) this.schedule();
    return out;
  }

  private schedule(): void {
    // Nothing in flight: go at once (a lone ack or send pays no linger). Otherwise entries gather
    // while calls are in flight, up to a full batch or the linger time.
    if (this.inFlight.size === 0 || this.options.lingerMs === 0) this.pump(true);
    else if (this.queue.length >= this.options.maxEntries) this.pump(false);
    else this.timer ??= setTimeout(() => this.pump(true), this.options.lingerMs);
  }

  /** Entries waiting or in flight. */
  get size(): number {
    return this.queue.length + this.running;
  }

  /** Sends everything queued now and resolves once every call in flight has finished. */
  async drain(): Promise<void> {
    while (this.queue.length || this.inFlight.size) {
      this.pump(true);
      if (this.inFlight.size) await Promise.race(this.inFlight);
    }
  }

  private take(): Pending<T, R>[] {
    const out: Pending<T, R>[] = [];
    let bytes = 0;
    while (this.queue.length && out.length < this.options.maxEntries) {
      const next = this.queue[0]!;
      const size = this.options.sizeOf?.(next.entry) ?? 0;
      if (out.length && this.options.maxBytes !== undefined && bytes + size > this.options.maxBytes) break;
      bytes += size;
      out.push(this.queue.shift()!);
    }
    return out;
  }

  private pump(force: boolean): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.queue.length && this.inFlight.size < this.options.concurrency) {
      if (!force && this.queue.length < this.options.maxEntries) break;
      const batch = this.take();
      this.running += batch.length;
      const p: Promise<void> = this.call(batch).finally(() => {
        this.running -= batch.length;
        this.inFlight.delete(p);
        this.pump(false);
      });
      this.inFlight.add(p);
    }
    if (this.queue.length && this.inFlight.size < this.options.concurrency) {
      this.timer = setTimeout(() => this.pump(true), this.options.lingerMs);
    }
  }

  private async call(batch: Pending<T, R>[]): Promise<void> {
    let outcomes: EntryOutcome<R>[];
    try {
      outcomes = await this.run(batch.map((b) => b.entry));
    } catch (err) {
      for (const b of batch) b.reject(err);
      return;
    }
    batch.forEach((b, i) => {
      const o = outcomes[i];
      if (!o) b.reject(new Error('the batch call returned no outcome for this entry'));
      else if (o.ok) b.resolve(o.value);
      else b.reject(o.error);
    });
  }
}
