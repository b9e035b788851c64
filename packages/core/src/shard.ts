/**
 * Key -> shard for backends that emulate per-key order with N shards (RabbitMQ, NATS `partitions`).
 *
 * The shard of a key is FNV-1a (32 bit) of the key's UTF-8 bytes, modulo `partitions`: the hash
 * nats-server's `partition(n, ...)` subject mapping uses for its wildcard tokens, so a producer
 * outside Switchboard can compute the same shard (documented in each adapter's wire format).
 */
const encoder = new TextEncoder();

/** FNV-1a, 32 bit, of `bytes` (offset basis 0x811c9dc5, prime 0x01000193). */
export function fnv1a32(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The shard (0 .. partitions-1) of `key`. Every message of one key goes to one shard, so a shard
 * consumed by one member at a time keeps the key's order.
 */
export function shardOf(key: string, partitions: number): number {
  return fnv1a32(encoder.encode(key)) % partitions;
}
