/**
 * What one group knows per offset, for the offsets from its committed offset (every offset below it
 * is done) up to the highest it handed out: attempts so far, the member holding a delivery with
 * that delivery's token, and whether the offset is done.
 *
 * Parallel arrays in a ring indexed by offset, doubling when the span from the committed offset to
 * the highest one outgrows it. Steady traffic allocates nothing per message; the Maps and the Set
 * this replaces took a new key per message and dropped one, and rehashed their tables as they did
 * (about 0.45 KB allocated per message on memory://).
 */
export class Ledger<M> {
  /** The committed offset: every offset below it is done and forgotten. */
  floor: number;
  private size: number;
  private attempts: Float64Array;
  private tokens: Float64Array;
  private holders: (M | undefined)[];
  private doneFlags: Uint8Array;

  /**
   * @param size - the ring's first size. Small by default: an idle group holds a ledger too, and at
   * 1024 the four arrays took about 25 KiB per group (8 of them on the V8 heap) before a message.
   */
  constructor(floor: number, size = 16) {
    this.floor = floor;
    this.size = size;
    this.attempts = new Float64Array(size);
    this.tokens = new Float64Array(size);
    this.holders = new Array<M | undefined>(size).fill(undefined);
    this.doneFlags = new Uint8Array(size);
  }

  /** How many offsets the ring holds before it grows. */
  get capacity(): number {
    return this.size;
  }

  /** Attempts of `offset` so far (0 for a done one). */
  attemptsOf(offset: number): number {
    const i = this.known(offset);
    return i < 0 ? 0 : this.attempts[i]!;
  }

  setAttempts(offset: number, n: number): void {
    if (offset < this.floor) return;
    // The slot first: growing replaces the arrays.
    const i = this.slot(offset);
    this.attempts[i] = n;
  }

  /** The member holding `offset` under `token`, if it does. */
  holderOf(offset: number, token: number): M | undefined {
    const i = this.known(offset);
    return i >= 0 && this.tokens[i] === token ? this.holders[i] : undefined;
  }

  hold(offset: number, member: M, token: number): void {
    if (offset < this.floor) return;
    const i = this.slot(offset);
    this.holders[i] = member;
    this.tokens[i] = token;
  }

  unhold(offset: number): void {
    const i = this.known(offset);
    if (i < 0) return;
    this.holders[i] = undefined;
    this.tokens[i] = 0;
  }

  /** Marks `offset` done and moves the floor past every done offset in a row. */
  markDone(offset: number): void {
    if (offset < this.floor) return;
    const at = this.slot(offset);
    this.doneFlags[at] = 1;
    const size = this.size;
    for (let i = this.floor % size; this.doneFlags[i] === 1; i = this.floor % size) {
      this.doneFlags[i] = 0;
      this.attempts[i] = 0;
      this.tokens[i] = 0;
      this.holders[i] = undefined;
      this.floor++;
    }
  }

  /** Offsets `member` holds, with their tokens. */
  heldBy(member: M): [offset: number, token: number][] {
    const out: [number, number][] = [];
    for (let offset = this.floor; offset < this.floor + this.size; offset++) {
      const i = offset % this.size;
      if (this.holders[i] === member) out.push([offset, this.tokens[i]!]);
    }
    return out;
  }

  /** The ring index of `offset` when the ring holds it (from the floor, within its size), else -1. */
  private known(offset: number): number {
    return offset < this.floor || offset >= this.floor + this.size ? -1 : offset % this.size;
  }

  /** The ring index of `offset` (at or above the floor), growing the ring first when it is out of reach. */
  private slot(offset: number): number {
    if (offset - this.floor >= this.size) this.grow(offset - this.floor + 1);
    return offset % this.size;
  }

  private grow(span: number): void {
    let size = this.size * 2;
    while (size < span) size *= 2;
    const attempts = new Float64Array(size);
    const tokens = new Float64Array(size);
    const holders = new Array<M | undefined>(size).fill(undefined);
    const doneFlags = new Uint8Array(size);
    for (let offset = this.floor; offset < this.floor + this.size; offset++) {
      const from = offset % this.size;
      const to = offset % size;
      attempts[to] = this.attempts[from]!;
      tokens[to] = this.tokens[from]!;
      holders[to] = this.holders[from];
      doneFlags[to] = this.doneFlags[from]!;
    }
    this.size = size;
    this.attempts = attempts;
    this.tokens = tokens;
    this.holders = holders;
    this.doneFlags = doneFlags;
  }
}
