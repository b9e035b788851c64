import { performance } from 'node:perf_hooks';
import { startMemorySampler, tryGc, type MemoryStats } from './memory-sampler';
import { percentileSorted } from './stats';

/** The workload of one run. Both implementations of a backend get exactly the same one. */
export interface BenchParams {
  /** Messages produced and consumed per run. */
  readonly messages: number;
  /** Body size in bytes (at least {@link MIN_MESSAGE_SIZE}). */
  readonly size: number;
  /** Messages per send call (one confirmed batch). */
  readonly batch: number;
  /** Confirmed batches in flight at once. */
  readonly inflight: number;
  /** Unacked deliveries a consumer may hold (and, for Switchboard, handlers running at once). */
  readonly prefetch: number;
  /** A run (setup, produce, consume) that takes longer fails with a timeout. */
  readonly deadlineMs: number;
  /**
   * The producer keeps sending (in whole batches) until it sent `messages` and this long has passed
   * since the first send, whichever comes later; 0: exactly `messages`. So a fast backend still
   * runs long enough to mean something, and the run's message count is reported.
   */
  readonly minDurationMs?: number;
  /** Every this many acked messages, force a GC and record the heap (a soak check); 0 or absent: never. */
  readonly heapEvery?: number;
  /**
   * The producer waits while more than this many messages are sent but not yet acked (0 or absent:
   * no limit, the producer runs ahead of the consumer as fast as confirms allow). A soak needs a
   * limit: without one, an in-process broker (memory://) holds the whole backlog and heap after GC
   * measures the backlog, not what Switchboard retains.
   */
  readonly maxBacklog?: number;
}

/** Defaults of everything but the knobs the CLI exposes. */
export const WORKLOAD_DEFAULTS = { batch: 100, inflight: 4, prefetch: 256, deadlineMs: 180_000 } as const;

/** Never more messages than this in one run, whatever `minDurationMs` asks for. */
export const MAX_RUN_MESSAGES = 50_000_000;

/** Heap and RSS after a forced GC once `messages` were acked (a soak checkpoint). Bytes. */
export interface HeapCheckpoint {
  readonly messages: number;
  /** Milliseconds since the first send. */
  readonly atMs: number;
  /** V8 heap in use after the GC, minus the heap at the run's start. */
  readonly heapDelta: number;
  readonly heapUsed: number;
  readonly rss: number;
}

/** The smallest body that still carries the sequence number and send time. */
export const MIN_MESSAGE_SIZE = 32;

/** Callbacks a target's consumer reports to. */
export interface ConsumerSink {
  /** Called once per delivery, after it was acked, with its body. */
  onAcked(body: Uint8Array): void;
  /** Called when the consumer died; fails the run. */
  onError(err: unknown): void;
}

/**
 * One implementation of the workload on one broker: the raw client or Switchboard.
 * `setup` creates the fresh destination and a ready consumer that acks every message and reports
 * it to the sink; `publish` sends one batch and resolves once the broker confirmed all of it;
 * `teardown` stops the consumer, deletes the destination and closes every connection, and is
 * safe to call after a failed or partial `setup`.
 */
export interface BenchTarget {
  setup(destination: string, sink: ConsumerSink): Promise<void>;
  publish(bodies: Buffer[]): Promise<void>;
  teardown(): Promise<void>;
}

/** Creates a target for a URL; called once per run, so every run gets new connections. */
export type TargetFactory = (url: string, params: BenchParams) => BenchTarget;

/** What one run measured. Times in milliseconds, rates in messages per second, memory in bytes. */
export interface RunMeasurement {
  /** Messages produced and acked (at least `params.messages`; more when `minDurationMs` asked for it). */
  readonly messages: number;
  /** Connect, create the destination, start a ready consumer. Not part of `wallMs`. */
  readonly setupMs: number;
  /** From the first send to the last confirm. */
  readonly publishMs: number;
  /** From the first send to the last ack: the run's wall time. */
  readonly wallMs: number;
  /** messages / publishMs. */
  readonly publishRate: number;
  /** messages / wallMs. */
  readonly endToEndRate: number;
  /** Send (batch built) to ack, median and 99th percentile. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Deliveries of a message already seen (at-least-once redeliveries). */
  readonly duplicates: number;
  readonly memory: MemoryStats;
  /**
   * Heap after a forced GC once the last message was acked (before teardown), minus the heap at the
   * run's start: what the run left behind (NaN when no GC could be forced).
   */
  readonly heapAfterGcDelta: number;
  /** Process CPU time (user + system) from the first send to the last ack, in microseconds per message. */
  readonly cpuMicrosPerMessage: number;
  /** Soak checkpoints every `heapEvery` acked messages (empty when off). */
  readonly heapCheckpoints: HeapCheckpoint[];
}

/** Builds body number `seq` of `size` bytes: ASCII `seq:sendTime;` padded with `x` (valid text everywhere). */
export function makeBody(seq: number, size: number, sentAt: number): Buffer {
  return makeBodies(seq, 1, size, sentAt)[0]!;
}

/** `x` bytes to pad bodies with, grown to the largest size asked for. */
let padding = Buffer.alloc(0);

/**
 * Bodies number `first` to `first + count - 1`, as {@link makeBody} makes them, cut from one
 * buffer: one allocation per batch, not per message, so the harness's own cost stays small
 * beside the clients' (the same bodies go to every implementation).
 */
export function makeBodies(first: number, count: number, size: number, sentAt: number): Buffer[] {
  if (padding.byteLength < size) padding = Buffer.alloc(size, 0x78);
  const slab = Buffer.allocUnsafeSlow(size * count);
  const stamp = `:${sentAt.toFixed(3)};`;
  const out = new Array<Buffer>(count);
  for (let i = 0; i < count; i++) {
    const body = slab.subarray(i * size, (i + 1) * size);
    padding.copy(body, 0, 0, size);
    body.write(`${first + i}${stamp}`, 0, 'latin1');
    out[i] = body;
  }
  return out;
}

/** Reads the sequence number and send time back from a body made by {@link makeBody}; undefined when it is not one. */
export function readBody(body: Uint8Array): { seq: number; sentAt: number } | undefined {
  // Straight from the bytes: `<digits>:<digits>.<digits>;`, no strings made.
  const n = Math.min(body.byteLength, 40);
  let i = 0;
  let seq = 0;
  for (; i < n && body[i] !== 0x3a; i++) {
    const d = body[i]! - 0x30;
    if (d < 0 || d > 9) return undefined;
    seq = seq * 10 + d;
  }
  if (i === 0 || i === n) return undefined;
  let scaled = 0;
  let scale = 1;
  let point = false;
  let digits = 0;
  for (i++; i < n && body[i] !== 0x3b; i++) {
    const c = body[i]!;
    if (c === 0x2e && !point) {
      point = true;
      continue;
    }
    const d = c - 0x30;
    if (d < 0 || d > 9) return undefined;
    scaled = scaled * 10 + d;
    digits++;
    if (point) scale *= 10;
  }
  if (i === n || digits === 0) return undefined;
  // One division of two exact integers: the same double as Number() of the text.
  return { seq, sentAt: scaled / scale };
}

function withDeadline<T>(p: Promise<T>, deadline: Promise<never>): Promise<T> {
  return Promise.race([p, deadline]);
}

/** {@link RunHooks.onProgress} is called each time this many more messages were acked. */
export const PROGRESS_EVERY = 10_000;

/** What a caller of {@link runOnce} hears while the run goes on. */
export interface RunHooks {
  /** Every {@link PROGRESS_EVERY} acked messages: how many were acked and sent so far. Must not throw. */
  onProgress?(acked: number, sent: number): void;
}

/**
 * Runs the workload once on a fresh target and destination: set up, produce `messages` bodies in
 * confirmed batches (`inflight` at once) while the consumer acks them, until every sequence number
 * was acked once. Memory is sampled every 50 ms from before the connections open until teardown.
 * Rejects on any error, or with a timeout after `deadlineMs`; the target is torn down either way.
 */
export async function runOnce(factory: TargetFactory, url: string, destination: string, params: BenchParams, hooks: RunHooks = {}): Promise<RunMeasurement> {
  const { onProgress } = hooks;
  const target = n0(params);
  const minDurationMs = params.minDurationMs ?? 0;
  const heapEvery = params.heapEvery ?? 0;
  const maxBacklog = params.maxBacklog ?? 0;
  /** Messages handed to the producer so far. */
  let next = 0;
  /** Wakes the producer once the backlog is back under `maxBacklog`. */
  let drained: (() => void) | undefined;
  const gcWorks = tryGc();
  const sampler = startMemorySampler(50);
  const heapStart = process.memoryUsage().heapUsed;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`run did not finish within ${params.deadlineMs} ms`)), params.deadlineMs);
  });
  deadline.catch(() => undefined);

  let seen = new Uint8Array(target);
  let latencies = new Float64Array(target);
  /** Messages the producer will send in all: known once it stopped. */
  let total = Infinity;
  let received = 0;
  let duplicates = 0;
  let lastAck = 0;
  let t0 = 0;
  const heapCheckpoints: HeapCheckpoint[] = [];
  let finish!: () => void;
  let fail!: (err: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  done.catch(() => undefined);
  const grow = (needed: number) => {
    if (needed <= seen.length) return;
    const size = Math.min(MAX_RUN_MESSAGES, Math.max(needed, seen.length * 2));
    const s2 = new Uint8Array(size);
    s2.set(seen);
    seen = s2;
    const l2 = new Float64Array(size);
    l2.set(latencies);
    latencies = l2;
  };
  const sink: ConsumerSink = {
    onAcked(body) {
      const now = performance.now();
      const m = readBody(body);
      if (!m || m.seq < 0 || m.seq >= seen.length) return fail(new Error(`consumer got a body that is not from this run (${body.byteLength} bytes)`));
      if (seen[m.seq]) {
        duplicates++;
        return;
      }
      seen[m.seq] = 1;
      latencies[received++] = now - m.sentAt;
      lastAck = now;
      if (heapEvery > 0 && received % heapEvery === 0 && gcWorks) {
        tryGc();
        const mem = process.memoryUsage();
        heapCheckpoints.push({ messages: received, atMs: performance.now() - t0, heapDelta: mem.heapUsed - heapStart, heapUsed: mem.heapUsed, rss: mem.rss });
      }
      if (onProgress && received % PROGRESS_EVERY === 0) onProgress(received, next);
      if (drained && next - received <= maxBacklog) {
        const d = drained;
        drained = undefined;
        d();
      }
      if (received === total) finish();
    },
    onError: (err) => fail(err),
  };

  const impl = factory(url, params);
  try {
    const setupStart = performance.now();
    await withDeadline(impl.setup(destination, sink), deadline);
    const setupMs = performance.now() - setupStart;

    t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const produce = async () => {
      const inFlight = new Set<Promise<void>>();
      while (next < params.messages || (performance.now() - t0 < minDurationMs && next < MAX_RUN_MESSAGES)) {
        while (inFlight.size >= params.inflight) await Promise.race(inFlight);
        if (maxBacklog > 0 && next - received > maxBacklog) await new Promise<void>((resolve) => (drained = resolve));
        const count = next < params.messages ? Math.min(params.batch, params.messages - next) : Math.min(params.batch, MAX_RUN_MESSAGES - next);
        grow(next + count);
        const sentAt = performance.now();
        const bodies = makeBodies(next, count, params.size, sentAt);
        next += count;
        const p: Promise<void> = impl.publish(bodies).then(() => void inFlight.delete(p));
        inFlight.add(p);
        p.catch(() => undefined);
      }
      await Promise.all(inFlight);
      total = next;
      if (received === total) finish();
      return performance.now();
    };
    const published = await withDeadline(Promise.race([produce(), done.then(() => new Promise<never>(() => undefined))]), deadline);
    await withDeadline(done, deadline);
    const cpu = process.cpuUsage(cpu0);
    const memory = sampler.stop();
    const heapAfterGcDelta = tryGc() ? process.memoryUsage().heapUsed - heapStart : NaN;
    const n = total;
    const publishMs = published - t0;
    const wallMs = lastAck - t0;
    const sorted = latencies.subarray(0, n).sort();
    return {
      messages: n,
      setupMs,
      publishMs,
      wallMs,
      publishRate: n / (publishMs / 1000),
      endToEndRate: n / (wallMs / 1000),
      p50Ms: percentileSorted(sorted, 50)!,
      p99Ms: percentileSorted(sorted, 99)!,
      duplicates,
      memory,
      heapAfterGcDelta,
      cpuMicrosPerMessage: (cpu.user + cpu.system) / n,
      heapCheckpoints,
    };
  } finally {
    clearTimeout(timer);
    sampler.stop();
    await Promise.race([impl.teardown().catch(() => undefined), new Promise((r) => setTimeout(r, 30_000).unref())]);
  }
}

/** The arrays' first size: the messages asked for (the producer grows them when `minDurationMs` sends more). */
function n0(params: BenchParams): number {
  return Math.max(1, params.messages);
}
