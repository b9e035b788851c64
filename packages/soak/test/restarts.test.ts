import { restartResults, SoakLedger, spread } from '@switchboard/soak';

/** A ledger with one message issued every 10 ms from 0 to `until`, each received `lag` ms later unless `down(t)`. */
function steady(until: number, lag: number, down: (t: number) => boolean): SoakLedger {
  const l = new SoakLedger();
  const arrivals: [number, number][] = [];
  for (let t = 0; t <= until; t += 10) {
    const seq = l.issue(t);
    l.confirm(seq, t + 1);
    if (!down(t)) arrivals.push([t + lag, seq]);
  }
  for (const [t, seq] of arrivals.sort((a, b) => a[0] - b[0])) l.receive(seq, t);
  return l;
}

describe('restarts', () => {
  test('restarts - resume is from the command returning to the first delivery of a message sent after it', () => {
    // Broker down from 1000 to 3000: messages sent then never arrive; the command returns at 2500.
    const l = steady(6000, 5, (t) => t >= 1000 && t < 3000);
    const [r] = restartResults([{ index: 1, startedAtMs: 1000, returnedAtMs: 2500, ok: true }], l, 7000);
    expect(r!.commandMs).toBe(1500);
    // the first message sent at or after 2500 that arrived was sent at 3000, received at 3005
    expect(r!.resumeMs).toBe(505);
    expect(r!.resumed).toBe(true);
    // last delivery before 1000 is at 995 (sent 990); next at 3005
    expect(r!.gapMs).toBe(2010);
  });

  test('restarts - nothing of what was sent after a restart arrived: not resumed, gap up to the end', () => {
    const l = steady(3000, 5, (t) => t >= 1000);
    const [r] = restartResults([{ index: 1, startedAtMs: 1000, returnedAtMs: 1200, ok: true }], l, 4000);
    expect(r!.resumeMs).toBeUndefined();
    expect(r!.resumed).toBe(false);
    expect(r!.gapMs).toBe(4000 - 995);
  });

  test('restarts - nothing sent after a restart: resumption not measured', () => {
    const l = steady(1000, 5, () => false);
    const [r] = restartResults([{ index: 1, startedAtMs: 900, returnedAtMs: 1500, ok: true }], l, 2000);
    expect(r!.resumed).toBeUndefined();
  });

  test('restarts - max and median over the restarts that have a value', () => {
    const rs = [{ resumeMs: 100 }, { resumeMs: undefined }, { resumeMs: 300 }, { resumeMs: 200 }] as never[];
    expect(spread(rs, (r: { resumeMs: number | undefined }) => r.resumeMs)).toEqual({ max: 300, median: 200 });
    expect(spread([], () => 1)).toEqual({ max: undefined, median: undefined });
  });
});
