import type { Destination } from '@switchboard/core';
import type { ConsumerDriver, InboundMessage, ResolvedConsumerOptions } from '@switchboard/core/driver';
import { openJetStreamConsumer, type JsHandle, type ShardDriver, type ShardPart } from './jetstream-consumer';
import { shardSubject } from './names';
import type { NatsContext } from './session';

/**
 * How long a pull request waits when the member's prefetch does not cover every shard and the
 * keyless lane: a pull waiting on an empty shard takes a share of the prefetch, so the shares rotate.
 */
export const SCARCE_PULL_EXPIRES_MS = 1000;

/**
 * Whether a member's prefetch covers a slot for every shard plus at least one for the keyless lane
 * (`prefetch > partitions`). Then every shard always keeps its slot (one message held, one pull
 * waiting for the next) and the lane has the rest; otherwise the N + 1 readers take turns
 * ({@link roomLeft}, pulls expiring after {@link SCARCE_PULL_EXPIRES_MS}).
 */
export function isScarce(prefetch: number, partitions: number): boolean {
  return prefetch <= partitions;
}

/**
 * The prefetch of one reader of a member (a shard, or the keyless lane when `lane`): a shard holds
 * one message (max_ack_pending 1) and, with room to spare, has a pull waiting for its next one; the
 * lane has what the shards leave. When scarce, each reader asks for one at a time.
 */
export function readerPrefetch(prefetch: number, partitions: number, lane: boolean): number {
  if (isScarce(prefetch, partitions)) return 1;
  return lane ? prefetch - partitions : 2;
}

/**
 * How many more messages reader `self` may ask for now, by the member's budget (each reader's own
 * prefetch bounds it too). With room for all (not {@link isScarce}), unlimited: the shards hold at
 * most one each and the lane at most `prefetch - partitions`. When scarce, every reader that holds,
 * accepts or asks for something counts once (each asks for one at a time), a busy reader may go on,
 * and an idle one may start while fewer than `prefetch` are busy. Never below 0.
 */
export function roomLeft(prefetch: number, loads: readonly number[], self: number): number {
  if (!isScarce(prefetch, loads.length - 1) || (loads[self] ?? 0) > 0) return Number.MAX_SAFE_INTEGER;
  let busy = 0;
  for (const l of loads) if (l > 0) busy += 1;
  return Math.max(0, prefetch - busy);
}

/**
 * A member of a group on a partitioned JetStream destination (connection option `partitions`).
 * The destination's stream holds N shard subjects beside its plain subject. The group has one
 * durable consumer per shard, filtered to that shard and with `max_ack_pending: 1`, so the server
 * hands out one message of a shard at a time to the whole group: the next one only once it is
 * acked or terminated (dead-lettered, rejected). A nacked message, one waiting for its nack delay,
 * and one whose holder died (until the ack_wait backstop) stay pending, so the shard waits for them:
 * per-key order across members, across membership changes, and after nacks (blocking). Keyless
 * messages travel on the plain subject, read by one more durable consumer (the keyless lane,
 * unlimited max_ack_pending, as an unpartitioned group): nothing to keep in order, so nothing waits.
 *
 * The member reads every shard and the lane (one {@link openJetStreamConsumer} each) within its own
 * prefetch ({@link readerPrefetch}, {@link roomLeft}); `poll()` pulls from them natively (see
 * `fetch`). Settles go to the reader the delivery came from.
 */
export async function openPartitionedConsumer(ctx: NatsContext, source: Destination, o: ResolvedConsumerOptions, partitions: number): Promise<ConsumerDriver<JsHandle>> {
  const readers: ShardDriver[] = [];
  const loads = (): number[] => readers.map((r) => r.load());
  let refilling = false;
  /** Reader `from` changed: top up every reader, starting with the one after it (so it comes last). */
  const changed = (from: number) => {
    if (refilling) return;
    refilling = true;
    try {
      const n = readers.length;
      for (let i = 1; i <= n; i++) readers[(from + i) % n]?.refill();
    } finally {
      refilling = false;
    }
  };
  const scarce = isScarce(o.prefetch, partitions);
  const { subject } = ctx.names(source);
  try {
    // One after another: the first makes the stream (and checks its partitions).
    for (let index = 0; index <= partitions; index++) {
      const lane = index === partitions;
      const part: ShardPart = {
        index,
        ordered: !lane,
        filterSubjects: lane ? [subject] : [shardSubject(source, ctx.options.subjectPrefix, index)],
        pullExpiresMs: scarce ? Math.min(SCARCE_PULL_EXPIRES_MS, ctx.options.pullExpiresMs) : ctx.options.pullExpiresMs,
        room: () => roomLeft(o.prefetch, loads(), index),
        changed: () => changed(index),
      };
      readers.push(await openJetStreamConsumer(ctx, source, { ...o, prefetch: readerPrefetch(o.prefetch, partitions, lane) }, part));
    }
  } catch (err) {
    await Promise.all(readers.map((r) => r.close().catch(() => undefined)));
    throw err;
  }
  const of = (h: JsHandle): ShardDriver => readers[h.shard]!;
  /** Where the next fetch starts, so polls go round the readers. */
  let turn = 0;
  const budget = () => {
    let used = 0;
    for (const l of loads()) used += l;
    return o.prefetch - used;
  };

  return {
    native: { extend: true },
    start(sink) {
      for (const r of readers) r.start(sink);
    },
    async stop() {
      await Promise.all(readers.map((r) => r.stop()));
    },
    /**
     * A native poll over the N + 1 readers: no_wait pulls round the readers (from a rotating start)
     * until `max` or the member's prefetch is reached; if none had anything and `waitMs` > 0, one
     * pull of one message with expires on every reader at once, the others ended as soon as one
     * brought something (a message that still arrives for an ended pull goes back with -NAK).
     */
    async fetch(max, waitMs, signal) {
      const out: InboundMessage<JsHandle>[] = [];
      const n = readers.length;
      const start = turn;
      turn = (turn + 1) % n;
      for (let i = 0; i < n && out.length < max; i++) {
        const room = Math.min(max - out.length, budget());
        if (room <= 0) break;
        out.push(...(await readers[(start + i) % n]!.fetch!(room, 0, signal)));
      }
      if (out.length > 0 || waitMs <= 0 || signal?.aborted || budget() <= 0) return out;
      const round = new AbortController();
      const onAbort = () => round.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const got = await Promise.all(
          readers.map((r) =>
            r.fetch!(1, waitMs, round.signal).then((m) => {
              if (m.length > 0) round.abort();
              return m;
            }),
          ),
        );
        for (const m of got) out.push(...m);
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
      return out;
    },

    ack: (h) => of(h).ack(h),
    retry: (h, delayMs) => of(h).retry(h, delayMs),
    deadLetter: (h, to, headers) => of(h).deadLetter(h, to, headers),
    release: (h, how) => of(h).release(h, how),
    extend: (h, ms) => of(h).extend!(h, ms),
    async close() {
      await Promise.all(readers.map((r) => r.close()));
    },
  };
}
