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
}

/** Defaults of everything but the three knobs the CLI exposes. */
export const WORKLOAD_DEFAULTS = { batch: 100, inflight: 4, prefetch: 256, deadlineMs: 180_000 } as const;

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
}

/** Builds body number `seq` of `size` bytes: ASCII `seq:sendTime;` padded with `x` (valid text everywhere). */
export function makeBody(seq: number, size: number, sentAt: number): Buffer {
  const body = Buffer.alloc(size, 0x78);
  body.write(`${seq}:${sentAt.toFixed(3)};`, 0, 'latin1');
  return body;
}

/** Reads the sequence number and send time back from a body made by {@link makeBody}; undefined when it is not one. */
export function readBody(body: Uint8Array): { seq: number; sentAt: number } | undefined {
  const head = Buffer.from(body.buffer, body.byteOffset, Math.min(body.byteLength, 40)).toString('latin1');
  const end = head.indexOf(';');
  const colon = head.indexOf(':');
  if (end < 0 || colon < 0 || colon > end) return undefined;
  const seq = Number(head.slice(0, colon));
  const sentAt = Number(head.slice(colon + 1, end));
  return Number.isInteger(seq) && Number.isFinite(sentAt) ? { seq, sentAt } : undefined;
}

function withDeadline<T>(p: Promise<T>, deadline: Promise<never>): Promise<T> {
  return Promise.race([p, deadline]);
}

/**
 * Runs the workload once on a fresh target and destination: set up, produce `messages` bodies in
 * confirmed batches (`inflight` at once) while the consumer acks them, until every sequence number
 * was acked once. Memory is sampled every 50 ms from before the connections open until teardown.
 * Rejects on any error, or with a timeout after `deadlineMs`; the target is torn down either way.
 */
export async function runOnce(factory: TargetFactory, url: string, destination: string, params: BenchParams): Promise<RunMeasurement> {
  const n = params.messages;
  tryGc();
  const sampler = startMemorySampler(50);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`run did not finish within ${params.deadlineMs} ms`)), params.deadlineMs);
  });
  deadline.catch(() => undefined);

  const seen = new Uint8Array(n);
  const latencies = new Float64Array(n);
  let received = 0;
  let duplicates = 0;
  let lastAck = 0;
  let finish!: () => void;
  let fail!: (err: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  done.catch(() => undefined);
  const sink: ConsumerSink = {
    onAcked(body) {
      const now = performance.now();
      const m = readBody(body);
      if (!m || m.seq < 0 || m.seq >= n) return fail(new Error(`consumer got a body that is not from this run (${body.byteLength} bytes)`));
      if (seen[m.seq]) {
        duplicates++;
        return;
      }
      seen[m.seq] = 1;
      latencies[received++] = now - m.sentAt;
      lastAck = now;
      if (received === n) finish();
    },
    onError: (err) => fail(err),
  };

  const target = factory(url, params);
  try {
    const setupStart = performance.now();
    await withDeadline(target.setup(destination, sink), deadline);
    const setupMs = performance.now() - setupStart;

    const t0 = performance.now();
    const produce = async () => {
      let next = 0;
      const inFlight = new Set<Promise<void>>();
      while (next < n) {
        while (inFlight.size >= params.inflight) await Promise.race(inFlight);
        const count = Math.min(params.batch, n - next);
        const sentAt = performance.now();
        const bodies: Buffer[] = new Array(count);
        for (let i = 0; i < count; i++) bodies[i] = makeBody(next + i, params.size, sentAt);
        next += count;
        const p: Promise<void> = target.publish(bodies).then(() => void inFlight.delete(p));
        inFlight.add(p);
        p.catch(() => undefined);
      }
      await Promise.all(inFlight);
      return performance.now();
    };
    const published = await withDeadline(Promise.race([produce(), done.then(() => new Promise<never>(() => undefined))]), deadline);
    await withDeadline(done, deadline);
    const publishMs = published - t0;
    const wallMs = lastAck - t0;
    const sorted = latencies.sort();
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
      memory: sampler.stop(),
    };
  } finally {
    clearTimeout(timer);
    sampler.stop();
    await Promise.race([target.teardown().catch(() => undefined), new Promise((r) => setTimeout(r, 30_000).unref())]);
  }
}
