/**
 * Per-partition bookkeeping that turns per-message acks on a log into safe commits.
 *
 * Offsets enter in fetch order (increasing within a partition, possibly with gaps). Each is
 * either done (acked, dead-lettered, re-published for retry, filtered out) or open (held by the
 * application, or buffered). The commit position is the first open offset, or one past the last
 * offset seen when nothing is open: a commit never passes an unhandled message, so a crash can
 * cause redelivery but never a skip.
 */
export class PartitionTracker {
  /**
   * Offsets seen and not yet below the commit position, increasing, from `head` on: two parallel
   * arrays (offset, done) instead of an object and a map entry per offset. A finish finds its offset
   * at once when the offsets are contiguous (the usual case), else by binary search; the consumed
   * front is cut off once it is most of the arrays, so each operation is O(1) amortized.
   */
  private offsets: number[] = [];
  private done: boolean[] = [];
  private head = 0;
  private lastSeen = -1;
  /** The highest position handed to a successful commit (or known committed). */
  committed = -1;

  /** True when the offset was seen already (a refetch after a rejoin or seek). */
  seen(offset: number): boolean {
    return offset <= this.lastSeen;
  }

  /** Records a newly fetched offset; `done` for offsets skipped without delivery. */
  add(offset: number, done = false): void {
    if (offset <= this.lastSeen) return;
    this.lastSeen = offset;
    // Nothing open before it and done: it is below the commit position at once.
    if (done && this.head === this.offsets.length) return;
    this.offsets.push(offset);
    this.done.push(done);
  }

  /** Marks an offset done. Returns false when it was unknown or already done. */
  finish(offset: number): boolean {
    const i = this.indexOf(offset);
    if (i < 0 || this.done[i]) return false;
    this.done[i] = true;
    if (i === this.head) this.trim();
    return true;
  }

  isOpen(offset: number): boolean {
    const i = this.indexOf(offset);
    return i >= 0 && !this.done[i];
  }

  /** Next offset to commit: the first open one, or one past the last seen. -1 before anything was seen. */
  position(): number {
    if (this.head < this.offsets.length) return this.offsets[this.head]!;
    return this.lastSeen < 0 ? -1 : this.lastSeen + 1;
  }

  /** Whether {@link position} is ahead of what was committed. */
  get dirty(): boolean {
    const p = this.position();
    return p >= 0 && p > this.committed;
  }

  /** Open offsets that have a done offset after them: the gaps a commit cannot pass. */
  openBeforeLastDone(): number[] {
    let last = this.head - 1;
    for (let i = this.offsets.length - 1; i >= this.head; i--) {
      if (this.done[i]) {
        last = i;
        break;
      }
    }
    const out: number[] = [];
    for (let i = this.head; i < last; i++) if (!this.done[i]) out.push(this.offsets[i]!);
    return out;
  }

  /** Open offsets, in order. */
  open(): number[] {
    const out: number[] = [];
    for (let i = this.head; i < this.offsets.length; i++) if (!this.done[i]) out.push(this.offsets[i]!);
    return out;
  }

  /** Where `offset` is in the arrays (at or after `head`), or -1. */
  private indexOf(offset: number): number {
    const n = this.offsets.length;
    if (this.head >= n) return -1;
    const guess = this.head + (offset - this.offsets[this.head]!);
    if (guess >= this.head && guess < n && this.offsets[guess] === offset) return guess;
    let lo = this.head;
    let hi = n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.offsets[mid]!;
      if (v === offset) return mid;
      if (v < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Moves `head` past the done offsets at the front; cuts the consumed front off once it is most of the arrays. */
  private trim(): void {
    const n = this.offsets.length;
    let h = this.head;
    while (h < n && this.done[h]) h++;
    if (h === n) {
      this.offsets.length = 0;
      this.done.length = 0;
      this.head = 0;
      return;
    }
    if (h >= 1024 && h * 2 >= n) {
      this.offsets.splice(0, h);
      this.done.splice(0, h);
      h = 0;
    }
    this.head = h;
  }
}
