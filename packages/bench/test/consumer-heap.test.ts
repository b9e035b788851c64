import '@switchboard/memory';
import { connect, queue, type Connection } from '@switchboard/core';
import { tryGc } from '@switchboard/bench';

/** Consumers of the measurement, each consuming on its own queue. */
const K = 1000;
/**
 * Heap after GC per consuming consumer on memory:// may be at most this. Measured 9.2 KiB (core's
 * consumer, engine and consume loop, and the memory backend's queue and group). A group's ledger
 * that started at 1024 slots made it 19 KiB; the consume loop as closures added 1.4.
 */
const BOUND_KIB = 11;

describe('consumer heap', () => {
  test('consumer heap - an idle consuming consumer on memory:// costs at most 11 KiB of heap after GC', async () => {
    expect(tryGc()).toBe(true);
    const conn: Connection = await connect('memory://bench-consumer-heap');
    const held: unknown[] = [];
    try {
      // Warm-up: code, shapes and the connection's own state exist before the baseline.
      for (let i = 0; i < 20; i++) {
        const c = await conn.consumer(queue(`warm-${i}`));
        held.push(c, c.consume(async () => undefined));
      }
      tryGc();
      const before = process.memoryUsage().heapUsed;
      for (let i = 0; i < K; i++) {
        const q = queue(`idle-${i}`);
        await conn.admin.ensureDestination(q);
        const c = await conn.consumer(q, { prefetch: 256 });
        held.push(c, c.consume(async () => undefined));
      }
      tryGc();
      const perConsumerKiB = (process.memoryUsage().heapUsed - before) / K / 1024;
      expect(held).toHaveLength(2 * (K + 20));
      // On failure the message names the figure.
      expect(`${perConsumerKiB <= BOUND_KIB ? 'within' : 'over'} ${BOUND_KIB} KiB (${perConsumerKiB.toFixed(2)} KiB per consumer)`).toMatch(/^within/);
    } finally {
      await conn.close();
    }
  }, 120_000);
});
