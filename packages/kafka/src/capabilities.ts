import type { Capabilities } from '@switchboard/core';
import { defineCapabilities, emulated, native, none } from '@switchboard/core/driver';

/**
 * What kafka:// does. Kafka is a partitioned log with one committed position per group and
 * partition; everything per-message (acks out of order, redelivery, delays, dead letters) is built
 * by this adapter on top and declared `emulated` with its mechanism.
 */
const table = {
  fireAndForget: native('send without waiting for the produce response (acks still "all" on the wire)'),
  confirm: native('idempotent producer, acks=all; the receipt is <partition>:<offset>, and a message sent without an id of its own is named <topic>:<partition>:<offset>@<timestamp>'),
  requestResponse: emulated('a reply topic per connection (sb.reply.<id>) read by its own group; correlation id and reply-to travel as headers'),
  fanout: native('one Kafka consumer group per Switchboard group'),
  competingConsumers: native('members of one consumer group share the partitions (needs at least as many partitions as members)'),
  headerFilter: emulated('consumer-side: records whose headers do not match are skipped and committed; they still cross the network'),
  mailbox: emulated('a queue is a topic with one fixed consumer group that starts at the earliest retained record'),
  prefetch: emulated('the adapter stops taking records from a fetched batch and pauses the partition when prefetch deliveries are unacked; the rest is fetched again later'),
  mailboxRequestResponse: emulated('request/response over a queue topic, reply via the requester\'s reply topic'),
  polling: emulated('poll() takes from a buffer filled by the group member, bounded by prefetch'),
  longPolling: emulated('poll() waits on that buffer; a fetch returns within maxWaitTimeMs (100 ms) of a record arriving'),
  atMostOnce: native('the offsets of a fetched batch are committed before its records are handed out; records whose commit failed are not handed out'),
  atLeastOnce: emulated('per-message acks; per partition only the contiguous acked prefix is committed'),
  crashRedelivery: native('uncommitted records are fetched again by the member that takes over the partition'),
  dedup: emulated('consumer-side dedup middleware (withDedup) on the message id; the idempotent producer removes only the duplicates of its own retries'),
  orderingPerKey: native('key -> partition (murmur2, as the Java client); one partition is delivered in order'),
  orderingPerKeyAfterNack: none('a nacked record goes to the group\'s retry topic and its partition moves on, so a later record of the key can finish first (Kafka-style skip, not block)'),
  orderingTotal: none('Kafka orders records only within a partition, and keyless records are spread over the partitions; a one-partition topic (partitions=1) is totally ordered'),
  replay: native('records are retained; a new group reads from earliest or latest'),
  replayFromPosition: native('from { position } (a delivery\'s "<partition>:<offset>@<timestamp ms>": that partition from that offset, the others from the first record at or after that timestamp by ListOffsets), { offset } (all partitions, or "<partition>:<offset>") or { timestamp } (ListOffsets by time)'),
  committedPosition: native('the group\'s committed offsets'),
  ackTimeout: emulated('client-side timer per delivery (core\'s; Kafka has no per-record deadline); on expiry the record is re-published to the group\'s retry topic with attempt + 1'),
  extend: emulated('restarts that client-side timer'),
  nackDelay: emulated('re-published to the group\'s retry topic with a not-before header; that retry partition is paused until the head record is due'),
  deadLetter: emulated('after maxAttempts the record is published to the dead-letter topic with reason, attempts, source and <partition>:<offset>, then committed'),
  reject: emulated('published straight to the dead-letter topic, then committed'),
  delayedSend: emulated('a not-before header; a consumer moves an early record to its group\'s retry topic, which waits until it is due'),
  gracefulClose: native('close() waits for handlers, commits the acked prefix, re-publishes unacked records stuck behind acked ones, then leaves the group'),
  reconnect: native('kafkajs reconnects and retries; the idempotent producer keeps retried sends unique'),
  connectionCut: none('kafkajs follows the broker\'s advertised listener after bootstrap, so a proxy in front of the bootstrap address is bypassed and cannot cut the connection'),
  payloadLimit: native('checked before sending against maxMessageBytes (1 MiB, Kafka\'s default max.message.bytes); the broker enforces it too'),
  authentication: native('SASL PLAIN / SCRAM from the URL\'s user info; a refused login is an auth error'),
} as const;

/** The table for topics with several partitions (the default, partitions=3). */
export const kafkaCapabilities = defineCapabilities(table);

/**
 * The table for `partitions=1`: one partition keeps total order, but then a group has only one
 * active member, so members no longer compete.
 */
export const kafkaCapabilitiesSinglePartition = defineCapabilities({
  ...table,
  competingConsumers: none('with partitions=1 a group has one active member: Kafka gives each partition to one member'),
  orderingTotal: native('one partition per topic (partitions=1) is one ordered log'),
});

/**
 * The capability table of a connection: by the partition count of created topics, and with
 * `connectVia: 'bootstrap'` (every connection through the bootstrap address) a proxy there carries
 * all traffic, so a connection cut is survived like any reconnect.
 */
export function kafkaCapabilitiesFor(partitions: number, connectVia: 'advertised' | 'bootstrap' = 'advertised'): Capabilities {
  const base = partitions === 1 ? kafkaCapabilitiesSinglePartition : kafkaCapabilities;
  if (connectVia === 'advertised') return base;
  return defineCapabilities({
    ...base,
    connectionCut: native('connectVia=bootstrap: every connection goes through the bootstrap address; kafkajs reconnects and the consumer rejoins after a cut'),
  });
}
