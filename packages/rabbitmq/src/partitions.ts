import { shardOf } from '@switchboard/core/driver';

/**
 * Picks the shard of each outgoing message of a partitioned connection: a keyed message goes to
 * `shardOf(key, partitions)` (FNV-1a 32 of the key's UTF-8 bytes, mod partitions), so every message
 * of a key lands in one shard; a message without a key goes to the next shard in turn (round-robin,
 * no order promised for those).
 */
export class ShardRouter {
  private next = 0;

  constructor(readonly partitions: number) {}

  shardOf(key: string | undefined): number {
    if (key !== undefined) return shardOf(key, this.partitions);
    const s = this.next;
    this.next = (this.next + 1) % this.partitions;
    return s;
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

/**
 * The shard a retried message without a key goes to: one the member is not active on (so another
 * member gets it, as competing consumers of a plain queue would), else its own shard. A keyed
 * message always stays in its shard: its key's later messages are there.
 */
export function retryShard(own: number, key: string | undefined, active: ReadonlySet<number>, partitions: number): number {
  if (key !== undefined) return own;
  for (let i = 1; i < partitions; i++) {
    const s = (own + i) % partitions;
    if (!active.has(s)) return s;
  }
  return own;
}
