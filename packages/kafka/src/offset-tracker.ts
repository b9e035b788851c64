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
  /** Offsets seen and not yet below the commit position, in increasing order. */
  private readonly entries: { offset: number; done: boolean }[] = [];
  private readonly index = new Map<number, { offset: number; done: boolean }>();
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
    const e = { offset, done };
    this.entries.push(e);
    this.index.set(offset, e);
    this.lastSeen = offset;
    this.trim();
  }

  /** Marks an offset done. Returns false when it was unknown or already done. */
  finish(offset: number): boolean {
    const e = this.index.get(offset);
    if (!e || e.done) return false;
    e.done = true;
    this.trim();
    return true;
  }

  isOpen(offset: number): boolean {
    const e = this.index.get(offset);
    return !!e && !e.done;
  }

  /** Next offset to commit: the first open one, or one past the last seen. -1 before anything was seen. */
  position(): number {
    const first = this.entries[0];
    if (first) return first.offset;
    return this.lastSeen < 0 ? -1 : this.lastSeen + 1;
  }

  /** Whether {@link position} is ahead of what was committed. */
  get dirty(): boolean {
    const p = this.position();
    return p >= 0 && p > this.committed;
  }

  /** Open offsets that have a done offset after them: the gaps a commit cannot pass. */
  openBeforeLastDone(): number[] {
    let lastDone = -1;
    for (const e of this.entries) if (e.done) lastDone = e.offset;
    return this.entries.filter((e) => !e.done && e.offset < lastDone).map((e) => e.offset);
  }

  /** Open offsets, in order. */
  open(): number[] {
    return this.entries.filter((e) => !e.done).map((e) => e.offset);
  }

  private trim(): void {
    while (this.entries.length && this.entries[0]!.done) {
      const e = this.entries.shift()!;
      this.index.delete(e.offset);
    }
  }
}
