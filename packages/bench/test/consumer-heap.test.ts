import '@switchboard/memory';
import { perConsumer, runIdle, switchboardIdle, tryGc } from '@switchboard/bench';

/** Consumers of the measurement, each consuming on its own queue. */
const K = 1000;
/**
 * Heap after GC per consuming consumer on memory:// may be at most this. Measured 6.5 KiB (core's
 * consumer, engine and consume loop, and the memory backend's queue and group). Core's consumer and
 * engine built from closures made it 9.6 KiB; a group's ledger that started at 1024 slots, 19 KiB;
 * the consume loop as closures added 1.4.
 */
const BOUND_KIB = 8;

describe('consumer heap', () => {
  test('consumer heap - an idle consuming consumer on memory:// costs at most 8 KiB of heap after GC', async () => {
    expect(tryGc()).toBe(true);
    // The measurement `switchboard bench --consumers` makes, without the idle period and probes.
    const m = await runIdle(switchboardIdle(), 'memory://bench-consumer-heap', 'idle', { consumers: K, idleMs: 0, probes: 0, prefetch: 256, deadlineMs: 60_000 });
    expect(m.consumers).toBe(K);
    const perConsumerKiB = perConsumer(m).heapBytes / 1024;
    // On failure the message names the figure.
    expect(`${perConsumerKiB <= BOUND_KIB ? 'within' : 'over'} ${BOUND_KIB} KiB (${perConsumerKiB.toFixed(2)} KiB per consumer)`).toMatch(/^within/);
  }, 120_000);
});
