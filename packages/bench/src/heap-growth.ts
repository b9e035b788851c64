import type { HeapCheckpoint } from './workload';

/** What a soak's heap did after a point: the growth to the last checkpoint, and every checkpoint in words. */
export interface HeapGrowth {
  /** Heap after GC at the last checkpoint minus the one at `from` messages, in bytes (negative: it shrank). */
  readonly bytes: number;
  /** `50k: 37.0 MiB, 100k: 59.1 MiB, ...`: heap after GC above the run's start at each checkpoint. */
  readonly trail: string;
}

/**
 * The heap growth of a run with `heapEvery` checkpoints, from the checkpoint at `from` messages
 * (the state a stream settles at, reached by then) to the last. Throws when the run has no
 * checkpoint at `from`: a check that compares nothing must not pass.
 */
export function heapGrowth(checkpoints: readonly HeapCheckpoint[], from: number): HeapGrowth {
  const start = checkpoints.find((c) => c.messages === from);
  const last = checkpoints[checkpoints.length - 1];
  if (!start || !last || last === start) throw new Error(`no heap checkpoints at ${from} messages and after it (got ${checkpoints.map((c) => c.messages).join(', ') || 'none'})`);
  const trail = checkpoints.map((c) => `${c.messages / 1000}k: ${(c.heapDelta / 2 ** 20).toFixed(1)} MiB`).join(', ');
  return { bytes: last.heapUsed - start.heapUsed, trail };
}
