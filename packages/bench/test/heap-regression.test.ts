import '@switchboard/memory';
import { heapGrowth, runOnce, switchboardTarget, tryGc, WORKLOAD_DEFAULTS } from '@switchboard/bench';

/**
 * Messages of the run, and where the heap is compared: after the first 100k (by then every pool and
 * cache has settled; the dedup window, capped at 100k ids per destination, holds only ids a sender
 * gave, and this run gives none) and at the end. The producer keeps at most 10k messages unacked,
 * so the broker's backlog does not hide what is retained.
 */
const MESSAGES = 250_000;
const EVERY = 50_000;
const FROM = 100_000;
/**
 * Heap after GC may grow at most this much from 100k to 250k messages. A leak of 0.1 KiB per message
 * (the dedup window that kept every id did 0.55 KiB) is 15 MiB over those 150k messages.
 */
const BOUND_MIB = 8;

describe('heap', () => {
  test('heap - memory:// heap after GC stays flat from 100k to 250k messages through the public API', async () => {
    expect(tryGc()).toBe(true);
    const m = await runOnce(switchboardTarget(), 'memory://bench-heap-check', 'bench-heap-check', {
      ...WORKLOAD_DEFAULTS,
      messages: MESSAGES,
      size: 64,
      heapEvery: EVERY,
      maxBacklog: 10_000,
      minDurationMs: 0,
      deadlineMs: 900_000,
    });
    expect(m.messages).toBe(MESSAGES);
    expect(m.duplicates).toBe(0);
    expect(m.heapCheckpoints.map((c) => c.messages)).toEqual([50_000, 100_000, 150_000, 200_000, 250_000]);
    const { bytes, trail } = heapGrowth(m.heapCheckpoints, FROM);
    const growthMiB = bytes / 2 ** 20;
    if (process.env.SWITCHBOARD_BENCH_VERBOSE) process.stderr.write(`heap after GC above the start: ${trail}\n`);
    // On failure the message names the checkpoints, so it shows where the heap went.
    expect(`${growthMiB < BOUND_MIB ? 'within' : 'over'} ${BOUND_MIB} MiB (${growthMiB.toFixed(1)} MiB; ${trail})`).toMatch(/^within/);
  }, 900_000);
});
