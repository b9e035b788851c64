import { Batcher } from '../src/batcher';

describe('batcher - grouping and per-entry outcomes', () => {
  it('groups concurrent adds into batches of at most maxEntries', async () => {
    const calls: number[][] = [];
    const b = new Batcher<number, number>(
      async (xs) => {
        calls.push(xs);
        return xs.map((x) => ({ ok: true as const, value: x * 2 }));
      },
      { maxEntries: 10, lingerMs: 5, concurrency: 4 },
    );
    const results = await Promise.all(Array.from({ length: 25 }, (_, i) => b.add(i)));
    expect(results).toEqual(Array.from({ length: 25 }, (_, i) => i * 2));
    expect(calls.every((c) => c.length <= 10)).toBe(true);
    expect(calls.flat().sort((a, b2) => a - b2)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(calls.length).toBeLessThanOrEqual(4);
  });

  it('fails only the entries that failed, and all entries of a failed call', async () => {
    let fail = false;
    const b = new Batcher<number, number>(
      async (xs) => {
        if (fail) throw new Error('down');
        return xs.map((x) => (x % 2 ? { ok: false as const, error: new Error(`odd ${x}`) } : { ok: true as const, value: x }));
      },
      { maxEntries: 10, lingerMs: 1, concurrency: 1 },
    );
    const r = await Promise.allSettled([0, 1, 2, 3].map((x) => b.add(x)));
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
    fail = true;
    const r2 = await Promise.allSettled([4, 6].map((x) => b.add(x)));
    expect(r2.every((x) => x.status === 'rejected')).toBe(true);
  });

  it('splits batches by size and drains', async () => {
    const calls: number[][] = [];
    const b = new Batcher<number, void>(
      async (xs) => {
        calls.push(xs);
        return xs.map(() => ({ ok: true as const, value: undefined }));
      },
      { maxEntries: 10, maxBytes: 100, sizeOf: (x) => x, lingerMs: 1, concurrency: 2 },
    );
    const all = [60, 50, 40, 30, 100].map((x) => b.add(x));
    await b.drain();
    await Promise.all(all);
    for (const c of calls) expect(c.length === 1 || c.reduce((a, x) => a + x, 0) <= 100).toBe(true);
    expect(b.size).toBe(0);
  });
});
