// The conformance catalogue against RabbitMQ with per-key order (?partitions=4): every queue and topic
// group is four shard queues with single active consumer plus a plain queue for messages without a key
// (packages/rabbitmq/README.md, "Per-key order (partitions)"). The IX cases' foreign side is amqplib
// routing by that README's wire format, written here from the README, not from the adapter.
import type { Destination } from '@switchboard/core';
import { conformanceAgainst } from './define';
import { rabbitForeignWith } from './foreign/rabbitmq';
import { rabbitSuite, VARIANT_LOAD_COUNT, withParam } from './suites';

const PARTITIONS = 4;

/** FNV-1a, 32 bit (offset basis 0x811c9dc5, prime 0x01000193), of the key's UTF-8 bytes: the README's routing hash. */
function fnv1a(key: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(key, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

/** `<shard>` of the README: the key's shard number, or `any` without a key. */
const shardOf = (key: string | undefined): string => (key === undefined ? 'any' : String(fnv1a(key) % PARTITIONS));
/** The queue of one shard of queue `q`: `q@@shard.<i>`, or `q@@any`. */
const shardQueue = (q: string, shard: string) => (shard === 'any' ? `${q}@@any` : `${q}@@shard.${shard}`);

/** Where a foreign publisher sends a message with `key`: the key's shard queue, or the topic's exchange with `sb-shard`. */
function target(dest: Destination, key: string | undefined) {
  const shard = shardOf(key);
  const headers: Record<string, string> = key === undefined ? {} : { 'sb-key': key };
  if (dest.kind === 'queue') return { exchange: '', routingKey: shardQueue(dest.name, shard), headers };
  return { exchange: dest.name, routingKey: '', headers: { ...headers, 'sb-shard': shard } };
}

conformanceAgainst({
  ...rabbitSuite,
  name: `rabbitmq (partitions=${PARTITIONS})`,
  foreign: rabbitForeignWith({
    target,
    // A reader of queue `q` consumes every shard and the keyless queue.
    queuesOf: (q) => [...Array.from({ length: PARTITIONS }, (_, i) => shardQueue(q, String(i))), shardQueue(q, 'any')],
  }),
  loadCount: VARIANT_LOAD_COUNT,
  variant: withParam('partitions', String(PARTITIONS)),
});
