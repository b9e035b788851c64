// The heap guard on every broker: a stream of messages through the public API (the bench workload,
// at most 10,000 unacked), a forced GC every 50,000 acked, and the heap after GC compared between
// the checkpoint where the stream has settled and the last. Each broker's file of state per message
// (trackers, receipts, in-flight maps, dedup windows) would grow it; memory:// has its own check in
// packages/bench. No time is asserted. The broker comes from SWITCHBOARD_TEST_<NAME>_URL
// (harness/brokers.ts); CI=true makes a missing one fail the run.
import '@switchboard/kafka';
import '@switchboard/nats';
import '@switchboard/rabbitmq';
import '@switchboard/redis';
import '@switchboard/sqs';
import { randomUUID } from 'node:crypto';
import { heapGrowth, runOnce, switchboardTarget, tryGc, WORKLOAD_DEFAULTS } from '@switchboard/bench';
import { describeWithBroker, type BrokerName } from '../harness';

/** The heap after GC may grow at most this much between the two checkpoints. */
const BOUND_MIB = 8;

interface Shape {
  /** Messages in all; a checkpoint every `every`; compared from the one at `from` to the last. */
  readonly messages: number;
  readonly every: number;
  readonly from: number;
}

/**
 * 100k to 250k: a leak of 0.1 KiB per message is 15 MiB there. SQS through its emulator runs at a
 * few hundred to a few thousand messages per second, so it gets 20k to 60k: it catches a leak of
 * 0.2 KiB per message (8 MiB over 40k), which per-message receipts and in-flight records would exceed.
 */
const SHAPES: Record<BrokerName, Shape> = {
  kafka: { messages: 250_000, every: 50_000, from: 100_000 },
  rabbitmq: { messages: 250_000, every: 50_000, from: 100_000 },
  nats: { messages: 250_000, every: 50_000, from: 100_000 },
  redis: { messages: 250_000, every: 50_000, from: 100_000 },
  sqs: { messages: 60_000, every: 20_000, from: 20_000 },
};

for (const name of Object.keys(SHAPES) as BrokerName[]) {
  const shape = SHAPES[name];
  describeWithBroker(name, `heap ${name}`, (broker) => {
    test(`heap - ${name}: heap after GC stays within ${BOUND_MIB} MiB from ${shape.from / 1000}k to ${shape.messages / 1000}k messages through the public API`, async () => {
      expect(tryGc()).toBe(true);
      const destination = `sbheap-${randomUUID().slice(0, 8)}`;
      const m = await runOnce(switchboardTarget(), broker.url(), destination, {
        ...WORKLOAD_DEFAULTS,
        messages: shape.messages,
        size: 64,
        heapEvery: shape.every,
        maxBacklog: 10_000,
        minDurationMs: 0,
        deadlineMs: 900_000,
      });
      expect(m.messages).toBe(shape.messages);
      const { bytes, trail } = heapGrowth(m.heapCheckpoints, shape.from);
      const growthMiB = bytes / 2 ** 20;
      process.stderr.write(`heap ${name}: heap after GC above the start: ${trail}; growth from ${shape.from / 1000}k ${growthMiB.toFixed(1)} MiB; ${Math.round(m.endToEndRate)} msg/s\n`);
      // On failure the message names the checkpoints, so it shows where the heap went.
      expect(`${growthMiB < BOUND_MIB ? 'within' : 'over'} ${BOUND_MIB} MiB (${growthMiB.toFixed(1)} MiB; ${trail})`).toMatch(/^within/);
    }, 900_000);
  });
}
