import type { Capabilities } from '@switchboard/core';
import { defineCapabilities, emulated, native, none } from '@switchboard/core/driver';

/**
 * What the Redis Streams adapter guarantees, as the conformance suite checks it. Emulations name
 * their mechanism and cost.
 */
export const redisCapabilities: Capabilities = defineCapabilities({
  fireAndForget: native('XADD without waiting for its reply (the command still goes out in order on the connection)'),
  confirm: native('the XADD reply; brokerRef = the stream entry id'),
  requestResponse: emulated('the request carries sb-reply-to (a reply stream of the requesting connection) and sb-correlation-id; the reply is an XADD to that stream, read with XREAD BLOCK; the stream expires after replyTtlMs and is deleted on close'),
  fanout: native('topic = one stream; each Switchboard group is a consumer group on it'),
  competingConsumers: native('members of a consumer group share its entries (XREADGROUP)'),
  headerFilter: none('consumer groups read every entry of a stream; Redis has no server-side selection by field'),
  mailbox: native('queue = one stream with one consumer group created at id 0, so entries sent before any consumer wait; acked entries are deleted (XDEL)'),
  prefetch: native('XREADGROUP COUNT bounded by the member\'s unsettled deliveries (one whose ack is already on its way to Redis no longer counts); acks of one event-loop turn go out as one XACK'),
  mailboxRequestResponse: emulated('a request to a queue stream, replied to over the requester\'s reply stream (see requestResponse)'),
  polling: native('poll = due retries claimed first, then XREADGROUP COUNT max (within the prefetch window) on the member\'s own connection'),
  longPolling: native('XREADGROUP BLOCK for the rest of waitMs; a retry coming due or the poll\'s signal ends the wait early (CLIENT UNBLOCK)'),
  atMostOnce: native('XREADGROUP NOACK: entries never enter the pending entries list'),
  atLeastOnce: native('consumer groups with XACK; unacked entries stay in the pending entries list'),
  crashRedelivery: emulated('each member keeps a liveness key (PX 2 x blockMs + 1 s); members claim (XCLAIM) the pending entries of members whose key expired, and of closed members, which park them'),
  dedup: emulated('no broker dedup on streams: the core withDedup middleware drops repeated message ids'),
  orderingPerKey: none('a consumer group hands entries to whichever member reads next, without keys; one stream per key would be one consumer group per key'),
  orderingPerKeyAfterNack: none('no per-key order to keep (see orderingPerKey)'),
  orderingTotal: native('a stream is ordered by entry id; one member reads in that order'),
  replay: native('a topic stream keeps its entries (acks do not delete them) for retentionMs (each XADD trims older ones with MINID ~), for ever without it; a new group starts at earliest (0) or latest ($)'),
  replayFromPosition: native('from { position } or { offset } = a stream entry id (inclusive), { timestamp } = the first entry at or after that millisecond (entry ids start with their time); queue deliveries have no position'),
  committedPosition: native('a consumer group keeps its last-delivered id and pending entries on the server'),
  ackTimeout: emulated('core\'s timer per delivery; on expiry the entry id goes to the group\'s due set (sorted set) and is claimed again (XCLAIM), attempt = the delivery count'),
  extend: native('XCLAIM JUSTID to the holding member resets the entry\'s idle time; core restarts its timer'),
  nackDelay: emulated('the entry id waits in the group\'s due set (a sorted set scored by due time) and is claimed again (XCLAIM) once due'),
  deadLetter: emulated('after maxAttempts the adapter XADDs a copy with sb-dead-letter-* headers to the dead-letter queue stream, then XACKs'),
  reject: emulated('XADD of a copy to the dead-letter stream, then XACK: no retry'),
  delayedSend: emulated('the message waits in a hash, its due time in a sorted set; a Lua script run by publishers\' timers and every member\'s sweep (about once a second) XADDs it when due'),
  gracefulClose: native('close stops reading, waits for handlers, and parks what is unsettled for the group\'s other members'),
  reconnect: native('node-redis reconnects with a fixed delay (reconnectDelayMs) and queues commands meanwhile; consumer loops resume their blocking reads; the server keeps groups and pending entries (AOF)'),
  connectionCut: native('the same node-redis reconnect'),
  payloadLimit: native('maxMessageBytes (default 16 MiB, at most Redis\'s proto-max-bulk-len of 512 MB), checked before sending'),
  authentication: native('AUTH with the URL\'s user name and password (ACL users) or password'),
});
