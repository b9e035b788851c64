import type { Destination } from '@switchboard/core';
import type { ConsumerDriver, ResolvedConsumerOptions } from '@switchboard/core/driver';
import { openJetStreamConsumer, type JsHandle, type ShardDriver, type ShardPart } from './jetstream-consumer';
import { shardSubject } from './names';
import type { NatsContext } from './session';

/**
 * How long a shard's pull request waits when the member's prefetch is smaller than the number of
 * shards: a pull waiting on an empty shard takes a share of the prefetch, so the shares rotate.
 */
export const SCARCE_PULL_EXPIRES_MS = 1000;

/** What one shard's driver may hold or ask for: one message held (max_ack_pending 1) and one pull waiting for the next. */
export const SHARD_PREFETCH = 2;

/**
 * The filter subjects of shard `index`'s durable consumer: the shard subject, and for shard 0 also
 * the destination's unpartitioned subject (what a producer outside Switchboard publishes there
 * without routing is read, in order, as part of shard 0).
 */
export function shardFilters(d: Destination, subjectPrefix: string, unpartitionedSubject: string, index: number): string[] {
  const own = shardSubject(d, subjectPrefix, index);
  return index === 0 ? [unpartitionedSubject, own] : [own];
}

/**
 * The member's budget: how many more messages it may ask for, given its prefetch and what its
 * shards hold or asked for (never below 0).
 */
export function roomLeft(prefetch: number, loads: readonly number[]): number {
  let used = 0;
  for (const l of loads) used += l;
  return Math.max(0, prefetch - used);
}

/**
 * A member of a group on a partitioned JetStream destination (connection option `partitions`).
 * The destination's stream holds N shard subjects; the group has one durable consumer per shard,
 * filtered to that shard and with `max_ack_pending: 1`, so the server hands out one message of a
 * shard at a time to the whole group: the next one only once it is acked or terminated
 * (dead-lettered, rejected). A nacked message, one waiting for its nack delay, and one whose
 * holder died (until the ack_wait backstop) stay pending, so the shard waits for them: per-key
 * order across members, across membership changes, and after nacks (blocking).
 *
 * The member pulls from every shard's consumer (one {@link openJetStreamConsumer} per shard, each
 * holding at most one message and asking for one more), within its own prefetch: the shards share
 * it, and when it is smaller than N the shards' pull requests expire after
 * {@link SCARCE_PULL_EXPIRES_MS} so every shard gets its turn. Polling takes from the push stream
 * (no native fetch across N consumers). Settles go to the shard the delivery came from.
 */
export async function openPartitionedConsumer(ctx: NatsContext, source: Destination, o: ResolvedConsumerOptions, partitions: number): Promise<ConsumerDriver<JsHandle>> {
  const shards: ShardDriver[] = [];
  const loads = (): number[] => shards.map((s) => s.load());
  /** Where the next top-up round starts, so a scarce prefetch goes round the shards. */
  let next = 0;
  let refilling = false;
  const changed = () => {
    if (refilling) return;
    refilling = true;
    try {
      const n = shards.length;
      for (let i = 0; i < n; i++) shards[(next + i) % n]!.refill();
      next = n > 0 ? (next + 1) % n : 0;
    } finally {
      refilling = false;
    }
  };
  const scarce = o.prefetch < partitions;
  const subject = ctx.names(source).subject;
  const shardOptions: ResolvedConsumerOptions = { ...o, prefetch: SHARD_PREFETCH };
  try {
    // One after another: shard 0 makes the stream (and checks its partitions) first.
    for (let index = 0; index < partitions; index++) {
      const part: ShardPart = {
        index,
        filterSubjects: shardFilters(source, ctx.options.subjectPrefix, subject, index),
        pullExpiresMs: scarce ? Math.min(SCARCE_PULL_EXPIRES_MS, ctx.options.pullExpiresMs) : ctx.options.pullExpiresMs,
        room: () => roomLeft(o.prefetch, loads()),
        changed,
      };
      shards.push(await openJetStreamConsumer(ctx, source, shardOptions, part));
    }
  } catch (err) {
    await Promise.all(shards.map((s) => s.close().catch(() => undefined)));
    throw err;
  }
  const of = (h: JsHandle): ShardDriver => shards[h.shard]!;

  return {
    native: { extend: true },
    start(sink) {
      for (const s of shards) s.start(sink);
    },
    async stop() {
      await Promise.all(shards.map((s) => s.stop()));
    },
    ack: (h) => of(h).ack(h),
    retry: (h, delayMs) => of(h).retry(h, delayMs),
    deadLetter: (h, to, headers) => of(h).deadLetter(h, to, headers),
    release: (h, how) => of(h).release(h, how),
    extend: (h, ms) => of(h).extend!(h, ms),
    async close() {
      await Promise.all(shards.map((s) => s.close()));
    },
  };
}
