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
