import type { Capabilities } from '@switchboard/core';
import { defineCapabilities, emulated, native, none } from '@switchboard/core/driver';

/**
 * What the RabbitMQ adapter guarantees, as the conformance suite checks it. Emulations name
 * their mechanism; each costs extra publishes or client-side timers, as noted.
 */
export const rabbitCapabilities: Capabilities = defineCapabilities({
  fireAndForget: native('basic.publish without waiting for the publisher confirm; back-pressure through the channel drain event'),
  confirm: native('publisher confirms on a confirm channel; brokerRef = <connection generation>.<publish sequence>'),
  requestResponse: native('direct reply-to (amq.rabbitmq.reply-to) with AMQP correlation-id'),
  fanout: native('topic = durable headers exchange; each group a durable queue bound to it'),
  competingConsumers: native('consumers of one queue (a mailbox or a group queue) share its messages'),
  headerFilter: native('group queue bound with x-match=all and the filter headers (headers exchange)'),
  mailbox: native('durable classic queue, persistent messages'),
  prefetch: native('basic.qos per consumer channel'),
  mailboxRequestResponse: native('request to a durable queue, reply over direct reply-to'),
  polling: native('basic.get'),
  longPolling: emulated('basic.get retried every pollIntervalMs (default 50 ms) until a message arrives or waitMs passes'),
  atMostOnce: native('each delivery is acked on receipt, before the handler runs'),
  atLeastOnce: native('manual acks; a nack republishes the message with attempt + 1 (sb-attempt header), then acks the original'),
  crashRedelivery: native('unacked deliveries return to the queue when the consumer channel or connection closes'),
  dedup: emulated('no broker dedup in RabbitMQ: the core withDedup middleware drops repeated message ids'),
  orderingPerKey: none('RabbitMQ queues have no key partitioning: competing consumers of one queue (a group) can handle one key out of order; total order holds for a single consumer'),
  orderingPerKeyAfterNack: none('no per-key order to keep (see orderingPerKey)'),
  orderingTotal: native('a queue is FIFO for one producer and one consumer'),
  replay: native('each topic is also bound to a stream (x-queue-type: stream) that retains every message carrying sb-ts (every Switchboard send; a foreign publisher opts in with that header); from earliest/position/offset/timestamp reads it with x-stream-offset'),
  replayFromPosition: native('x-stream-offset: from { position } = a delivery\'s position (its stream offset in decimal, inclusive), { offset } = a stream offset, or { timestamp } (second precision, refined by the sb-ts send time); deliveries of a group queue or mailbox have no position'),
  committedPosition: emulated('the group offset of a stream reader is stored in a one-message queue <topic>@<group>@@offset and read back on start'),
  ackTimeout: emulated('client-side timer per delivery: on expiry the message is republished with attempt + 1 and the original acked'),
  extend: emulated('pushes the client-side ack timer'),
  nackDelay: emulated('republished to a per-delay TTL queue (x-message-ttl) that dead-letters back to the source queue'),
  deadLetter: emulated('after maxAttempts the adapter republishes to the dead-letter queue (confirmed, with sb-dead-letter-* headers), then acks'),
  reject: emulated('republished to the dead-letter queue with the reason, then acked: no retry'),
  delayedSend: emulated('published to a per-delay TTL queue (x-message-ttl) that dead-letters to the destination'),
  gracefulClose: native('close cancels the consumer, waits for handlers, requeues what was not handled'),
  reconnect: emulated('amqplib does not reconnect: the adapter reopens the connection with backoff and restores channels and consumers; sends wait up to sendTimeoutMs, then reject with a retryable connection error'),
  connectionCut: emulated('same adapter reconnect as after a broker restart'),
  payloadLimit: native('messages over max_message_size (default 16 MiB, option maxMessageBytes), and headers whose encoded AMQP table passes amqplib\'s 64 KiB buffer or frame_max (less 1 KiB kept for retry and dead-letter headers), are refused before anything is sent'),
  authentication: native('SASL PLAIN user/password from the URL'),
});

/** The table when `streams=false`: topics are plain exchanges, so nothing is retained for replay. */
export const rabbitCapabilitiesWithoutStreams: Capabilities = defineCapabilities({
  ...rabbitCapabilities,
  replay: none('streams=false: a topic is a plain exchange, and a group queue only holds what arrived after it was bound'),
  replayFromPosition: none('streams=false: nothing is retained to replay from'),
  committedPosition: none('streams=false: group queues are consumed destructively; there is no position to commit'),
});

/**
 * With `queueType=quorum` the levels stay as they are; the mechanisms differ: queues and group queues
 * are replicated quorum queues, and a broker redelivery counts every return (x-delivery-count) instead
 * of one for the redelivered flag, so a message that keeps killing its consumer reaches maxAttempts.
 */
function withQueueType(base: Capabilities, queueType: 'classic' | 'quorum'): Capabilities {
  if (queueType === 'classic') return base;
  return defineCapabilities({
    ...base,
    fanout: native('topic = durable headers exchange; each group a quorum queue (x-queue-type: quorum) bound to it'),
    mailbox: native('quorum queue (x-queue-type: quorum, replicated with Raft), persistent messages'),
    crashRedelivery: native('unacked deliveries return to the quorum queue when the consumer channel or connection closes; each return counts one attempt (x-delivery-count), so a message that keeps killing its consumer is dead-lettered once past maxAttempts'),
  });
}

/**
 * The capability table of a connection, from its resolved options: `streams=false` drops replay,
 * `queueType=quorum` changes the queue mechanisms (not the levels), and
 * `partitions` (N shard queues with single active consumer per queue and topic group) turns on per-key
 * order across the members of a group, at the costs named here.
 */
export function rabbitCapabilitiesFor(o: { streams: boolean; partitions?: number | undefined; queueType?: 'classic' | 'quorum' | undefined }): Capabilities {
  const base = withQueueType(o.streams ? rabbitCapabilities : rabbitCapabilitiesWithoutStreams, o.queueType ?? 'classic');
  const n = o.partitions;
  if (n === undefined) return base;
  const oneShard = n === 1;
  return defineCapabilities({
    ...base,
    orderingPerKey: emulated(
      `partitions=${n}: a keyed message goes to shard queue shardOf(key) (FNV-1a 32 of the key mod ${n}); each shard queue has x-single-active-consumer, so one member of a group consumes it at a time, in queue order. ` +
        'Cost: one key (and one shard) is handled by one member at a time, so a shard\'s throughput is one member\'s; a group uses at most partitions members; each member has a channel per shard. ' +
        'Rebalancing: a member active on more than ceil(partitions / members) shards (it checks every rebalanceIntervalMs) stops handing that shard out, waits until what it handed out is settled, then closes the shard\'s channel: the broker returns what it still held, in order, to the next waiting member, so a shard pauses for the handlers in flight. ' +
        'A member that dies mid-message: the broker requeues what its channel held, in order, and activates the next member, which handles that message again (at-least-once) and then the rest of the key in order; the dead member\'s handler may have run partly',
    ),
    orderingPerKeyAfterNack: none(
      'skip, not block: a nack republishes the message with attempt + 1 to the back of its shard (through a delay queue when delayed) and acks the original, so later messages of the key are handled before the retry; a dead-lettered message leaves its key\'s sequence',
    ),
    orderingTotal: oneShard
      ? native('partitions=1: keyed messages share one shard queue with single active consumer, one FIFO for one producer and the group (retries go to the back); messages without a key go to the destination\'s any queue, one FIFO for one producer and one consumer')
      : none(`partitions=${n}: keyed messages are spread by key over ${n} shards and those without a key go to a queue of their own, so order holds per key, not across keys (partitions=1 keeps one order for keyed messages)`),
    competingConsumers: oneShard
      ? none('partitions=1: keyed messages all go to the one shard queue, which one member of a group consumes at a time (single active consumer; the others wait to take over); only messages without a key (<name>@@any) are shared')
      : emulated(`partitions=${n}: messages without a key go to a plain queue (<name>@@any) the members compete on; keyed ones to ${n} shard queues, one member per shard at a time (single active consumer), at most ceil(${n} / members) each after a rebalance`),
    prefetch: emulated('a member hands out at most prefetch unsettled messages over all its shards; basic.qos(prefetch) on each shard channel bounds what it holds unacked from the broker (prefetch per shard it is active on)'),
    polling: emulated('core polls over the push stream of the shard consumers: basic.get would bypass single active consumer'),
    longPolling: emulated('core waits on the push stream of the shard consumers'),
    atMostOnce: native('a delivery is acked as the member hands it out, before the handler runs (what the member still holds unacked goes back in order on close)'),
    gracefulClose: native('close stops handing out, waits for handlers, then closes the shard channels: the broker puts back what was not handled, in order, before it activates another member'),
  });
}
