import { FAULT_NAMES, faultyMemoryDriver, type MemoryFaults } from '@switchboard/memory/testing';
import { defineConformanceSuite } from '@switchboard/conformance';

// The suite must be able to fail: each deliberately broken memory broker must be caught by the
// case written for that promise, while the same case passes on a healthy broker
// (memory-conformance.test.ts runs every case against a healthy one).
const variants: { fault: keyof MemoryFaults; faults: MemoryFaults; caughtBy: string }[] = [
  { fault: 'dropOneIn', faults: { dropOneIn: 10 }, caughtBy: 'RF1' },
  { fault: 'dropOneIn', faults: { dropOneIn: 1000 }, caughtBy: 'L1' },
  { fault: 'reorderKeys', faults: { reorderKeys: true }, caughtBy: 'OR1' },
  { fault: 'neverRedeliverNacked', faults: { neverRedeliverNacked: true }, caughtBy: 'AL1' },
  { fault: 'ignorePrefetch', faults: { ignorePrefetch: true }, caughtBy: 'MB3' },
  { fault: 'deliverDelayedEarly', faults: { deliverDelayedEarly: true }, caughtBy: 'RD5' },
  { fault: 'deliverDelayedEarly', faults: { deliverDelayedEarly: true }, caughtBy: 'RD2' },
  { fault: 'redeliverDeadLettered', faults: { redeliverDeadLettered: true }, caughtBy: 'RD3' },
  { fault: 'ignoreDedupWindow', faults: { ignoreDedupWindow: true }, caughtBy: 'EO1' },
  { fault: 'keepHeaders', faults: { keepHeaders: 3 }, caughtBy: 'RA4' },
  { fault: 'keepHeaders', faults: { keepHeaders: 3 }, caughtBy: 'RD3' },
  { fault: 'confirmBeforeStoreMs', faults: { confirmBeforeStoreMs: 200 }, caughtBy: 'RA5' },
  { fault: 'dedupOn', faults: { dedupOn: 'body' }, caughtBy: 'EO1' },
  { fault: 'dedupOn', faults: { dedupOn: 'id+body' }, caughtBy: 'EO1' },
  { fault: 'duplicateOneIn', faults: { duplicateOneIn: 100 }, caughtBy: 'PS3' },
  { fault: 'duplicateOneIn', faults: { duplicateOneIn: 100 }, caughtBy: 'MB2' },
  { fault: 'keyFreedOnReceipt', faults: { keyFreedOnReceipt: true }, caughtBy: 'OR1' },
  { fault: 'extendIgnored', faults: { extendIgnored: true }, caughtBy: 'RD1' },
  { fault: 'nackDelayHalved', faults: { nackDelayHalved: true }, caughtBy: 'RD2' },
  { fault: 'sendDelayHalved', faults: { sendDelayHalved: true }, caughtBy: 'RD5' },
  { fault: 'attemptStuckAtOne', faults: { attemptStuckAtOne: true }, caughtBy: 'AL1' },
  { fault: 'attemptPlusOne', faults: { attemptPlusOne: true }, caughtBy: 'RD3' },
  { fault: 'rejectRetries', faults: { rejectRetries: true }, caughtBy: 'RD4' },
  { fault: 'releaseSettles', faults: { releaseSettles: true }, caughtBy: 'RA2' },
  { fault: 'filterIgnored', faults: { filterIgnored: true }, caughtBy: 'PS4' },
  { fault: 'groupsMerged', faults: { groupsMerged: true }, caughtBy: 'PS1' },
  { fault: 'latestIsEarliest', faults: { latestIsEarliest: true }, caughtBy: 'ST1' },
  { fault: 'timestampIgnored', faults: { timestampIgnored: true }, caughtBy: 'ST2' },
  { fault: 'prefetchPlusOne', faults: { prefetchPlusOne: true }, caughtBy: 'MB3' },
  { fault: 'repliesCrossed', faults: { repliesCrossed: true }, caughtBy: 'RR1' },
  { fault: 'replyHeadersDropped', faults: { replyHeadersDropped: true }, caughtBy: 'RR4' },
  { fault: 'positionOffByOne', faults: { positionOffByOne: true }, caughtBy: 'ST5' },
  { fault: 'retryToSameMember', faults: { retryToSameMember: true }, caughtBy: 'RD6' },
  { fault: 'releaseSettles', faults: { releaseSettles: true }, caughtBy: 'F5' },
  { fault: 'namesFolded', faults: { namesFolded: true }, caughtBy: 'B7' },
  { fault: 'groupDeadlineShared', faults: { groupDeadlineShared: true }, caughtBy: 'RD7' },
  { fault: 'retryAtTheEnd', faults: { retryAtTheEnd: true }, caughtBy: 'OR3' },
];

describe('broken variants', () => {
  test('broken variants - every fault the memory broker can inject has a variant here', () => {
    expect(new Set(variants.map((v) => v.fault))).toEqual(new Set(FAULT_NAMES));
  });

  test.each(variants.map((v, i) => [`${v.fault} ${JSON.stringify(v.faults)}`, v.caughtBy, v, i] as const))(
    'broken variants - %s is caught by %s',
    async (_label, caughtBy, v, i) => {
      const suite = defineConformanceSuite({
        url: `memory://broken-${i}`,
        connectOptions: { drivers: [faultyMemoryDriver(v.faults)] },
        only: [caughtBy],
        loadCount: 20_000,
        timeScale: 0.3,
      });
      const report = await suite.run();
      const result = report.results.find((r) => r.id === caughtBy);
      expect(result?.status).toBe('failed');
      expect(result?.reason).toBeTruthy();
    },
    120_000,
  );
});
