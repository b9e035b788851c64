/** Send errors of one code and retryability. */
export interface SendErrorCount {
  /** The `SwitchboardError.code`, or `untyped` for an error that is not a SwitchboardError. */
  readonly code: string;
  readonly retryable: boolean;
  readonly count: number;
  /** The message of the first error of this code. */
  readonly example: string;
}

/** What a soak counted, by message id (each id is one sequence number of the run). */
export interface SoakCounts {
  /** Ids whose first send began. */
  readonly sent: number;
  /** Send calls made, retries included. */
  readonly sendAttempts: number;
  /** Ids whose send resolved (once each, however many attempts it took). */
  readonly confirmed: number;
  /** Ids sent but never confirmed (every attempt failed, or the run ended first). */
  readonly unconfirmed: number;
  /** Unique ids received. */
  readonly received: number;
  /** Deliveries handed to the handlers, duplicates included. */
  readonly deliveries: number;
  /** Deliveries of an id already received (`deliveries - received`, foreign messages aside). */
  readonly duplicates: number;
  /** Confirmed ids never received by the end of the drain. */
  readonly lost: number;
  /** Ids received although their send never resolved: not lost, not an error. */
  readonly arrivedUnconfirmed: number;
  /** Deliveries that carried no id of this run (should stay 0 on a fresh destination). */
  readonly foreign: number;
}

/**
 * The soak's books, pure and synchronous: one entry per sequence number. Times are milliseconds
 * since the send phase started, from one monotonic clock, and must be passed in non-decreasing order to
 * {@link SoakLedger.receive} (delivery times are kept sorted by arrival for the gap computation).
 */
export class SoakLedger {
  private readonly sentAt: number[] = [];
  private readonly confirmedAt: (number | undefined)[] = [];
  private readonly firstReceivedAt: (number | undefined)[] = [];
  private readonly receiveCount: number[] = [];
  private readonly errors = new Map<string, { code: string; retryable: boolean; count: number; example: string }>();
  private readonly times: number[] = [];
  private attempts = 0;
  private confirmedCount = 0;
  private receivedCount = 0;
  private arrivedUnconfirmedCount = 0;
  private foreignCount = 0;

  /** Starts a new id at `now` and returns its sequence number (0, 1, 2, ...). */
  issue(now: number): number {
    this.sentAt.push(now);
    this.confirmedAt.push(undefined);
    this.firstReceivedAt.push(undefined);
    this.receiveCount.push(0);
    return this.sentAt.length - 1;
  }

  /** Counts one send call (first or retry). */
  attempt(): void {
    this.attempts++;
  }

  /** The send of `seq` resolved. A second confirm of one id is ignored. */
  confirm(seq: number, now: number): void {
    this.check(seq);
    if (this.confirmedAt[seq] !== undefined) return;
    this.confirmedAt[seq] = now;
    this.confirmedCount++;
    if (this.receiveCount[seq]! > 0) this.arrivedUnconfirmedCount--;
  }

  /** A send call failed with `code` (`message`: the error's, kept for the first of each code). */
  sendError(code: string, retryable: boolean, message = ''): void {
    const key = `${code}/${retryable}`;
    const e = this.errors.get(key);
    if (e) e.count++;
    else this.errors.set(key, { code, retryable, count: 1, example: message.slice(0, 300) });
  }

  /**
   * A delivery of `seq` at `now` (`undefined` for a message that is not this run's).
   * Returns whether it was the first of that id.
   */
  receive(seq: number | undefined, now: number): 'first' | 'duplicate' | 'foreign' {
    this.times.push(now);
    if (seq === undefined || !Number.isInteger(seq) || seq < 0 || seq >= this.sentAt.length) {
      this.foreignCount++;
      return 'foreign';
    }
    const count = this.receiveCount[seq]! + 1;
    this.receiveCount[seq] = count;
    if (count > 1) return 'duplicate';
    this.firstReceivedAt[seq] = now;
    this.receivedCount++;
    if (this.confirmedAt[seq] === undefined) this.arrivedUnconfirmedCount++;
    return 'first';
  }

  /** Whether every confirmed id has been received. */
  allConfirmedReceived(): boolean {
    return this.lostCount() === 0;
  }

  counts(): SoakCounts {
    const deliveries = this.times.length;
    return {
      sent: this.sentAt.length,
      sendAttempts: this.attempts,
      confirmed: this.confirmedCount,
      unconfirmed: this.sentAt.length - this.confirmedCount,
      received: this.receivedCount,
      deliveries,
      duplicates: deliveries - this.receivedCount - this.foreignCount,
      lost: this.lostCount(),
      arrivedUnconfirmed: this.arrivedUnconfirmedCount,
      foreign: this.foreignCount,
    };
  }

  /** Send errors, most frequent first. */
  sendErrors(): SendErrorCount[] {
    return [...this.errors.values()].map((e) => ({ ...e })).sort((a, b) => b.count - a.count || a.code.localeCompare(b.code));
  }

  /** Up to `limit` sequence numbers confirmed and never received, lowest first. */
  lostIds(limit = 20): number[] {
    const out: number[] = [];
    for (let seq = 0; seq < this.sentAt.length && out.length < limit; seq++) {
      if (this.confirmedAt[seq] !== undefined && this.receiveCount[seq] === 0) out.push(seq);
    }
    return out;
  }

  /** Every delivery time, in arrival order. */
  deliveryTimes(): readonly number[] {
    return this.times;
  }

  /** When the first delivery of any id whose first send began at or after `from` happened; undefined if none. */
  firstReceiptOfSentSince(from: number): number | undefined {
    let lo = 0;
    let hi = this.sentAt.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sentAt[mid]! < from) lo = mid + 1;
      else hi = mid;
    }
    let first: number | undefined;
    for (let seq = lo; seq < this.sentAt.length; seq++) {
      const t = this.firstReceivedAt[seq];
      if (t !== undefined && (first === undefined || t < first)) first = t;
    }
    return first;
  }

  /** Whether any id's first send began at or after `from`. */
  sentSince(from: number): boolean {
    const last = this.sentAt[this.sentAt.length - 1];
    return last !== undefined && last >= from;
  }

  private lostCount(): number {
    return this.confirmedCount - (this.receivedCount - this.arrivedUnconfirmedCount);
  }

  private check(seq: number): void {
    if (!Number.isInteger(seq) || seq < 0 || seq >= this.sentAt.length) throw new RangeError(`no message ${seq} was issued`);
  }
}

/**
 * The longest time without any delivery around a window: over the last delivery at or before
 * `from` (or `from` itself when there is none), the deliveries after it up to and including the
 * first one at or after `to` (or `end`, when none came before the run ended), the largest distance
 * between neighbours. `times` must be sorted ascending.
 */
export function longestGap(times: readonly number[], from: number, to: number, end: number): number {
  let i = upperBound(times, from);
  let prev = i > 0 ? times[i - 1]! : from;
  let gap = 0;
  for (; i < times.length; i++) {
    const t = times[i]!;
    gap = Math.max(gap, t - prev);
    prev = t;
    if (t >= to) return gap;
  }
  return Math.max(gap, end - prev);
}

function upperBound(times: readonly number[], value: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The median of `values` (mean of the middle two for an even count); undefined for none. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
