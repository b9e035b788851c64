import { Fifo } from '@switchboard/core/driver';

describe('fifo', () => {
  test('fifo - gives items back in push order across compactions, and undefined when empty', () => {
    const q = new Fifo<number>();
    expect(q.shift()).toBeUndefined();
    const out: number[] = [];
    let next = 0;
    // Interleave pushes and shifts so the read index passes the compaction point many times.
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 300; i++) q.push(next++);
      for (let i = 0; i < 200; i++) out.push(q.shift()!);
    }
    expect(q.length).toBe(50 * 100);
    expect(q.peek()).toBe(out.length);
    out.push(...q.drain());
    expect(out).toEqual(Array.from({ length: next }, (_, i) => i));
    expect(q.length).toBe(0);
    expect(q.shift()).toBeUndefined();
  });

  test('fifo - keeps falsy items', () => {
    const q = new Fifo<number | null>();
    q.push(0);
    q.push(null);
    expect(q.length).toBe(2);
    expect(q.shift()).toBe(0);
    expect(q.shift()).toBeNull();
    expect(q.length).toBe(0);
  });
});
