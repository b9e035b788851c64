import v8 from 'node:v8';
import vm from 'node:vm';

/** What a {@link MemorySampler} saw between its start and `stop()`. All values in bytes. */
export interface MemoryStats {
  /** RSS when sampling started. */
  readonly rssStart: number;
  /** Highest RSS seen. */
  readonly rssPeak: number;
  /** `rssPeak - rssStart`: how far the process grew during the run. */
  readonly rssDelta: number;
  /** V8 heap in use when sampling started (after a GC where one could be forced). */
  readonly heapStart: number;
  /** Highest heap in use seen. */
  readonly heapPeak: number;
  /** `heapPeak - heapStart`: the run's peak live-plus-garbage heap. */
  readonly heapDelta: number;
  /** Samples taken (one at start, one every interval, one at stop). */
  readonly samples: number;
}

/** A running sampler; `stop()` ends it and returns the stats (idempotent). */
export interface MemorySampler {
  stop(): MemoryStats;
}

let gcFn: (() => void) | null | undefined;

/**
 * Forces a full garbage collection when the runtime allows it (`--expose-gc`, or by turning the
 * flag on at run time). Returns false when no GC could be forced; the numbers are then noisier.
 */
export function tryGc(): boolean {
  if (gcFn === undefined) {
    gcFn = null;
    const g = (globalThis as { gc?: () => void }).gc;
    if (typeof g === 'function') gcFn = g;
    else {
      try {
        v8.setFlagsFromString('--expose-gc');
        const f = vm.runInNewContext('gc') as unknown;
        if (typeof f === 'function') gcFn = f as () => void;
      } catch {
        gcFn = null;
      }
    }
  }
  if (!gcFn) return false;
  gcFn();
  return true;
}

/**
 * Samples `process.memoryUsage()` every `intervalMs` (default 50 ms) until `stop()`.
 * The timer is unref'd, so a forgotten sampler never keeps the process alive.
 */
export function startMemorySampler(intervalMs = 50): MemorySampler {
  const first = process.memoryUsage();
  let rssPeak = first.rss;
  let heapPeak = first.heapUsed;
  let samples = 1;
  const sample = () => {
    const m = process.memoryUsage();
    if (m.rss > rssPeak) rssPeak = m.rss;
    if (m.heapUsed > heapPeak) heapPeak = m.heapUsed;
    samples++;
  };
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  let result: MemoryStats | undefined;
  return {
    stop() {
      if (!result) {
        clearInterval(timer);
        sample();
        result = {
          rssStart: first.rss,
          rssPeak,
          rssDelta: rssPeak - first.rss,
          heapStart: first.heapUsed,
          heapPeak,
          heapDelta: heapPeak - first.heapUsed,
          samples,
        };
      }
      return result;
    },
  };
}
