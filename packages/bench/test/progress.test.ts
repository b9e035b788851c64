import '@switchboard/memory';
import { PROGRESS_EVERY, runBench, runOnce, switchboardTarget, WORKLOAD_DEFAULTS } from '@switchboard/bench';

describe('progress', () => {
  test('progress - a run reports acked and sent messages each time 10,000 more were acked', async () => {
    const calls: [number, number][] = [];
    const m = await runOnce(switchboardTarget(), 'memory://bench-progress', 'bench-progress', { ...WORKLOAD_DEFAULTS, messages: 25_000, size: 64, minDurationMs: 0 }, {
      onProgress: (acked, sent) => calls.push([acked, sent]),
    });
    expect(m.messages).toBe(25_000);
    expect(calls.map(([acked]) => acked)).toEqual([PROGRESS_EVERY, 2 * PROGRESS_EVERY]);
    for (const [acked, sent] of calls) expect(sent).toBeGreaterThanOrEqual(acked);
  }, 120_000);

  test('progress - the bench passes it on as a line naming the backend, implementation and run', async () => {
    const lines: string[] = [];
    const report = await runBench({ urls: ['memory://bench-progress-2'], messages: 20_000, size: 64, repeat: 1, warmupMessages: 0, onProgress: (l) => lines.push(l) });
    expect(report.ok).toBe(true);
    expect(lines).toEqual(expect.arrayContaining(['memory switchboard run 1/1', expect.stringMatching(/^memory switchboard run 1\/1: 10,000 acked of [\d,]+ sent$/), expect.stringMatching(/^memory switchboard run 1\/1: 20,000 acked of 20,000 sent$/)]));
  }, 120_000);
});
