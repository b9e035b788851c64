import { shardOf } from '@switchboard/core/driver';

/** A shard number, or `any`: the plain queue of a partitioned destination for messages without a key. */
export type ShardNo = number | 'any';

/**
 * Picks the shard of each outgoing message of a partitioned connection: a keyed message goes to
 * `shardOf(key, partitions)` (FNV-1a 32 of the key's UTF-8 bytes, mod partitions), so every message
 * of a key lands in one shard; a message without a key goes to `any`, a plain queue the members
 * compete on (no order promised for those: the broker spreads them over the members with room).
 */
export class ShardRouter {
  constructor(readonly partitions: number) {}

  shardOf(key: string | undefined): ShardNo {
    return key === undefined ? 'any' : shardOf(key, this.partitions);
  }
}

/** The most shards one member keeps when `members` share `partitions` shards: ceil(partitions / members). */
export function fairShare(partitions: number, members: number): number {
  return Math.ceil(partitions / Math.max(1, members));
}

/**
 * Which of the shards a member is active on it gives up so it keeps no more than its fair share
 * (`fairShare(partitions, members)`): it keeps `busy` shards first (those with messages handed out
 * and not settled yet, which could only go once settled), then the lowest-numbered ones, and gives up
 * the rest. Empty when it holds no more than its share.
 */
export function shardsToRelease(active: Iterable<number>, partitions: number, members: number, busy: ReadonlySet<number> = new Set()): number[] {
  const mine = [...new Set(active)].sort((a, b) => a - b);
  const keep = fairShare(partitions, members);
  if (mine.length <= keep) return [];
  const byPreference = [...mine.filter((s) => busy.has(s)), ...mine.filter((s) => !busy.has(s))];
  return byPreference.slice(keep).sort((a, b) => a - b);
}
