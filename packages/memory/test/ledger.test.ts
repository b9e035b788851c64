import { Ledger } from '../src/ledger';

describe('ledger', () => {
  test('ledger - the floor moves past done offsets in a row only', () => {
    const l = new Ledger<string>(10, 4);
    l.markDone(11);
    expect(l.floor).toBe(10);
    l.markDone(10);
    expect(l.floor).toBe(12);
    l.markDone(5); // below the floor: already done
    expect(l.floor).toBe(12);
  });

  test('ledger - attempts and holders survive the ring growing and wrapping, and a done offset forgets them', () => {
    const l = new Ledger<string>(0, 4);
    for (let o = 0; o < 10; o++) {
      l.setAttempts(o, o + 1);
      l.hold(o, `m${o % 2}`, 100 + o);
    }
    for (let o = 0; o < 10; o++) {
      expect(l.attemptsOf(o)).toBe(o + 1);
      expect(l.holderOf(o, 100 + o)).toBe(`m${o % 2}`);
      expect(l.holderOf(o, 99)).toBeUndefined();
    }
    expect(l.heldBy('m1').map(([o]) => o)).toEqual([1, 3, 5, 7, 9]);
    for (let o = 0; o < 6; o++) l.markDone(o);
    expect(l.floor).toBe(6);
    expect(l.attemptsOf(3)).toBe(0);
    expect(l.holderOf(3, 103)).toBeUndefined();
    // Offsets past the old span reuse the slots of done ones, which start empty.
    for (let o = 10; o < 22; o++) expect(l.attemptsOf(o)).toBe(0);
    l.setAttempts(21, 7);
    expect(l.attemptsOf(21)).toBe(7);
    expect(l.attemptsOf(6)).toBe(7);
    expect(l.heldBy('m0').map(([o, t]) => [o, t])).toEqual([[6, 106], [8, 108]]);
  });

  test('ledger - unhold ends a delivery; another token for the offset finds no holder', () => {
    const l = new Ledger<string>(0);
    l.hold(3, 'a', 7);
    l.unhold(3);
    expect(l.holderOf(3, 7)).toBeUndefined();
    l.hold(3, 'b', 8);
    expect(l.holderOf(3, 7)).toBeUndefined();
    expect(l.holderOf(3, 8)).toBe('b');
  });

  test('ledger - a new ledger starts small (an idle group costs little) and grows to the span in use', () => {
    const l = new Ledger<string>(0);
    expect(l.capacity).toBeLessThanOrEqual(16);
    for (let o = 0; o < 1000; o++) l.setAttempts(o, o + 1);
    expect(l.capacity).toBeGreaterThanOrEqual(1000);
    expect(l.attemptsOf(0)).toBe(1);
    expect(l.attemptsOf(999)).toBe(1000);
  });
});
