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
