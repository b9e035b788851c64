import type { Capabilities, CapabilityName, Support } from '@switchboard/core';
import { defineCapabilities, emulated, native, none } from '@switchboard/core/driver';

const CORE_NOTHING_STORED = 'core NATS stores nothing: a message reaches only the subscribers connected when it is published';

/**
 * What core NATS (`nats+core://`) gives: at-most-once subjects, fan-out to every subscriber,
 * queue groups for competing consumers, request/reply with no-responders detection. Nothing is
 * stored, acknowledged or redelivered.
 */
export const natsCoreCapabilities: Capabilities = defineCapabilities({
  fireAndForget: native(),
  confirm: none('core NATS has no publish acknowledgement and no message id; a confirmed send only waits for a flush round trip (use nats:// for JetStream)'),
  requestResponse: native('request/reply over an inbox subject; no-responders reported by the server'),
  fanout: native('every subscription group is its own subscription on the subject'),
  competingConsumers: native('queue groups'),
  headerFilter: emulated('client-side: deliveries whose headers do not match are dropped by the consumer'),
  mailbox: none(CORE_NOTHING_STORED),
  prefetch: none('core NATS pushes every message to a subscriber without flow control'),
  mailboxRequestResponse: none(CORE_NOTHING_STORED),
  polling: none('core NATS has no pull: messages are pushed and not retained for a later poll'),
  longPolling: none('core NATS has no pull: messages are pushed and not retained for a later poll'),
  atMostOnce: native('every delivery is settled on receipt'),
  atLeastOnce: none('core NATS has no acknowledgements and never redelivers'),
  crashRedelivery: none('core NATS has no acknowledgements and never redelivers'),
  dedup: emulated('by the withDedup() consumer middleware (an in-process store of seen sb-message-id values); core NATS itself keeps no message ids'),
  orderingPerKey: none('queue groups spread messages over members at random; keys are not used'),
  orderingPerKeyAfterNack: none('no per-key order to keep (see orderingPerKey)'),
  orderingTotal: native('one publisher, one subscriber, one subject: messages arrive in publish order'),
  replay: none(CORE_NOTHING_STORED),
  replayFromPosition: none(CORE_NOTHING_STORED),
  committedPosition: none(CORE_NOTHING_STORED),
  ackTimeout: none('core NATS has no acknowledgements'),
  extend: none('core NATS has no acknowledgements'),
  nackDelay: none('core NATS never redelivers'),
  deadLetter: none('core NATS never redelivers, so nothing is ever dead-lettered'),
  reject: none('core NATS has no dead-letter destination'),
  delayedSend: none(CORE_NOTHING_STORED),
  gracefulClose: none('close() waits for handlers in flight, but messages the consumer had not handled yet are lost: core NATS cannot take them back'),
  reconnect: none(`the client reconnects by itself, but ${CORE_NOTHING_STORED}, so messages published during the outage are lost`),
  connectionCut: none(`the client reconnects by itself, but ${CORE_NOTHING_STORED}, so messages published during the cut are lost`),
  payloadLimit: native("checked before sending against the server's max_payload"),
  authentication: native('user/password or token from the URL'),
});

/**
 * What JetStream (`nats://`, `nats+js://`) gives: mailboxes are work-queue streams with one durable
 * pull consumer, topics are limits-retention streams with one durable pull consumer per group.
 */
export const natsJetStreamCapabilities: Capabilities = defineCapabilities({
  fireAndForget: native('a core publish into the stream subject, without waiting for the PubAck'),
  confirm: native('JetStream PubAck; brokerRef is the stream sequence'),
  requestResponse: emulated("NATS's convention: a core request (reply subject = an inbox) on the destination's request subject sb.rq.<name> / sb.rt.<name>; a connection with Switchboard consumers (one queue-group subscription per kind, sb.rq.> / sb.rt.>) stores it in the stream with the reply subject as sb-reply-to and a consumer answers there, a plain NATS responder answers the reply subject; with nobody listening the request is stored in the stream to wait for a consumer"),
  fanout: native('one durable consumer per group on a limits-retention stream'),
  competingConsumers: native('members of a group pull from one durable consumer'),
  headerFilter: emulated('client-side: deliveries whose headers do not match are acked for the group and skipped'),
  mailbox: native('work-queue stream with one durable pull consumer'),
  prefetch: native('each member pulls at most its own prefetch minus its unacked deliveries; the durable consumer has no group-wide max_ack_pending (-1)'),
  mailboxRequestResponse: emulated("a request nobody listens for (the server's no-responders status) is stored in the mailbox stream with sb-reply-to; the recipient answers on that core NATS inbox when done"),
  polling: native('pull requests ($JS.API.CONSUMER.MSG.NEXT)'),
  longPolling: native('pull requests with expires'),
  atMostOnce: native('acked (synchronously) on receipt, before the handler runs'),
  atLeastOnce: native('explicit acks; nack is -NAK'),
  crashRedelivery: native("the durable consumer's ack_wait (a backstop: the largest ackTimeoutMs any member of the group asked, plus 5 s) redelivers what a dead consumer did not ack"),
  dedup: native('Nats-Msg-Id within the stream duplicate window (2 minutes by default)'),
  orderingPerKey: none('members of a group pull interleaved batches from one durable consumer and JetStream has no key affinity, so one key can be in flight at two members at once (order holds with a single member)'),
  orderingPerKeyAfterNack: none('no per-key order to keep (see orderingPerKey)'),
  orderingTotal: native('a stream keeps publish order'),
  replay: native('limits-retention streams; a new group starts at deliver_policy all or new'),
  replayFromPosition: native("topics: a delivery's position is its stream sequence and `from: { position }` (or `{ offset }`) starts a new group's durable consumer at deliver_policy by_start_sequence, `{ timestamp }` at by_start_time; queue deliveries carry no position (a work-queue stream removes what is acked)"),
  committedPosition: native('durable consumers keep their ack floor'),
  ackTimeout: emulated("per member: core's deadline per delivery, -NAK at expiry; the shared durable consumer's ack_wait is only a backstop that grows to the largest ackTimeoutMs of any member plus 5 s"),
  extend: emulated("core restarts the member's deadline; +WPI (confirmed by the server) restarts the backstop ack_wait, re-sent while the extension outlasts it"),
  nackDelay: native('-NAK with a delay'),
  deadLetter: emulated("the adapter publishes to the member's dead-letter queue on its final failed attempt (maxAttempts per member, from the delivery count), then terminates the message (+TERM); max_deliver is unlimited, so a final attempt lost to a dead member comes back and is dead-lettered"),
  reject: emulated('published to the dead-letter queue, then +TERM'),
  delayedSend: emulated('sb-not-before header; a consumer that gets the message early naks it with the remaining delay'),
  gracefulClose: native(),
  reconnect: native('the client reconnects by itself; streams keep confirmed messages and durable consumers resume'),
  connectionCut: native('the client reconnects by itself; streams keep confirmed messages and durable consumers resume'),
  payloadLimit: native("checked before sending against the server's max_payload"),
  authentication: native('user/password or token from the URL'),
});

const NO_CREDENTIALS = none(
  'the URL carries no credentials, so the server is used without authentication and cannot refuse wrong ones; give user:password@ or token@ in the URL to use (and check) authentication',
);

function withAuthentication(table: Capabilities, support: Support): Capabilities {
  return defineCapabilities({ ...(table as Record<CapabilityName, Support>), authentication: support });
}

/** {@link natsJetStreamCapabilities} for a URL without credentials: authentication is none. */
export const natsJetStreamCapabilitiesWithoutAuth: Capabilities = withAuthentication(natsJetStreamCapabilities, NO_CREDENTIALS);
/** {@link natsCoreCapabilities} for a URL without credentials: authentication is none. */
export const natsCoreCapabilitiesWithoutAuth: Capabilities = withAuthentication(natsCoreCapabilities, NO_CREDENTIALS);

/**
 * What `partitions` (N shards per destination, one durable consumer per shard and group with
 * `max_ack_pending: 1`) changes in the JetStream table; everything else stays as it is.
 */
export function partitionedOverrides(partitions: number): Partial<Record<CapabilityName, Support>> {
  return {
    orderingPerKey: emulated(
      `${partitions} shards per destination: a keyed message goes to shard FNV-1a-32(key) mod ${partitions} (subject <prefix>.qp.<name>.<shard>), and each group reads every shard through its own durable consumer with max_ack_pending 1, so the server hands out one message of a shard at a time to the whole group (members leave, join and crash without any rebalancing: whoever pulls gets the next one). Cost: one message per shard in flight, so a shard (every key in it) runs at most one handler at a time: throughput per shard is about 1 / (handler time + an ack round trip), and a group runs at most ${partitions} keyed handlers at once however many members and concurrency it has; a message held unacked holds its shard. No rebalancing pause on join or close; when a member dies mid-message its shard waits for the ack_wait backstop (ackTimeoutMs + 5 s) and the message is redelivered before any later one of the shard. Keyless messages are not serialized (the keyless lane)`,
    ),
    orderingPerKeyAfterNack: emulated(
      'blocking: a nacked message (with or without delay), a delayed send waiting for its time and a message whose ack deadline expired stay pending on the shard consumer (max_ack_pending 1), so no later message of the shard is delivered until it is handled, dead-lettered or rejected; a nack delay holds the whole shard for that long',
    ),
    orderingTotal: native(
      'for keyless messages: they keep the plain subject (the keyless lane, one durable consumer per group), so one consumer gets them in publish order as without partitions; keyed messages are ordered per key only, not against other keys or keyless ones',
    ),
    competingConsumers: native(`members of a group pull from every shard's durable consumer (one message of a shard in flight in the group at a time, so at most ${partitions} keyed messages) and from the keyless lane's (no limit)`),
    prefetch: native(`a member holds at most one message per shard and at most its prefetch in all: with prefetch above ${partitions} each shard keeps one slot and the keyless lane has the rest; at or below it the shards and the lane take turns (pull requests of 1 that expire after 1 s), which is slower`),
    polling: native('pull requests (no_wait) round the shard consumers and the keyless lane, within the prefetch'),
    longPolling: native('when nothing is there, one pull request with expires on every shard consumer and the keyless lane at once, the others ended as soon as one brings a message'),
  };
}

const partitionedTables = new Map<string, Capabilities>();

/**
 * The table of a connection: by mode, whether the URL carries credentials, and the JetStream
 * `partitions` option (see {@link partitionedOverrides}; core NATS has none).
 */
export function selectCapabilities(mode: 'jetstream' | 'core', hasCredentials: boolean, partitions?: number): Capabilities {
  if (mode === 'core') return hasCredentials ? natsCoreCapabilities : natsCoreCapabilitiesWithoutAuth;
  const base = hasCredentials ? natsJetStreamCapabilities : natsJetStreamCapabilitiesWithoutAuth;
  if (partitions === undefined) return base;
  const id = `${hasCredentials}:${partitions}`;
  let t = partitionedTables.get(id);
  if (!t) {
    t = defineCapabilities({ ...(base as Record<CapabilityName, Support>), ...partitionedOverrides(partitions) });
    partitionedTables.set(id, t);
  }
  return t;
}
