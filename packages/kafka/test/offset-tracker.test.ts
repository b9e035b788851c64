import { PartitionTracker } from '@switchboard/kafka';

describe('offset-tracker - contiguous acked prefix', () => {
  test('commits only up to the first open offset', () => {
    const t = new PartitionTracker();
    expect(t.position()).toBe(-1);
    for (const o of [5, 6, 7, 8]) t.add(o);
    expect(t.position()).toBe(5);
    t.finish(7);
    expect(t.position()).toBe(5);
    t.finish(5);
    expect(t.position()).toBe(6);
    t.finish(6);
    expect(t.position()).toBe(8);
    t.finish(8);
    expect(t.position()).toBe(9);
  });
  test('gaps in offsets are fine and seen offsets are recognised', () => {
    const t = new PartitionTracker();
    t.add(10);
    t.add(14, true);
    expect(t.seen(12)).toBe(true);
    expect(t.seen(15)).toBe(false);
    t.finish(10);
    expect(t.position()).toBe(15);
  });
  test('open offsets behind a done one are the gaps', () => {
    const t = new PartitionTracker();
    for (const o of [0, 1, 2, 3]) t.add(o);
    t.finish(2);
    expect(t.openBeforeLastDone()).toEqual([0, 1]);
    expect(t.open()).toEqual([0, 1, 3]);
  });
  test('dirty compares with the committed position', () => {
    const t = new PartitionTracker();
    t.add(0);
    expect(t.dirty).toBe(true);
    t.committed = 0;
    expect(t.dirty).toBe(false);
    t.finish(0);
    expect(t.dirty).toBe(true);
  });
});

describe('offset-tracker - long runs', () => {
  /** A plain model of the contract: every offset seen, with its state. */
  class Model {
    readonly state = new Map<number, boolean>();
    last = -1;
    add(o: number, done = false) {
      if (o <= this.last) return;
      this.last = o;
      this.state.set(o, done);
    }
    finish(o: number): boolean {
      if (this.state.get(o) !== false) return false;
      this.state.set(o, true);
      return true;
    }
    open(): number[] {
      return [...this.state].filter(([, d]) => !d).map(([o]) => o);
    }
    position(): number {
      const first = this.open()[0];
      return first ?? (this.last < 0 ? -1 : this.last + 1);
    }
  }

  test('offset-tracker - matches a plain model over 20,000 offsets with gaps, skips and out-of-order finishes', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const t = new PartitionTracker();
    const m = new Model();
    let next = 0;
    const openOnes: number[] = [];
    for (let step = 0; step < 40_000; step++) {
      if (rnd() < 0.5 && next < 20_000) {
        next += rnd() < 0.05 ? 2 + Math.floor(rnd() * 5) : 1; // gaps (compaction, transactions)
        const skip = rnd() < 0.1;
        t.add(next, skip);
        m.add(next, skip);
        if (!skip) openOnes.push(next);
      } else if (openOnes.length > 0) {
        // Mostly the oldest few (acks in order), sometimes any (a slow handler).
        const i = rnd() < 0.8 ? Math.floor(rnd() * Math.min(4, openOnes.length)) : Math.floor(rnd() * openOnes.length);
        const [o] = openOnes.splice(i, 1);
        expect(t.finish(o!)).toBe(m.finish(o!));
        expect(t.finish(o!)).toBe(false);
      }
      if (step % 997 === 0) {
        expect(t.position()).toBe(m.position());
        expect(t.open()).toEqual(m.open());
        const probe = Math.floor(rnd() * (next + 3));
        expect(t.isOpen(probe)).toBe(m.state.get(probe) === false);
      }
    }
    expect(t.position()).toBe(m.position());
    expect(t.open()).toEqual(m.open());
    expect(t.finish(next + 100)).toBe(false);
  });
});
