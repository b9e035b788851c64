import { createInbox, nanos, type Msg, type Subscription as NatsSubscription } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, ReplayPolicy, type ConsumerConfig } from '@nats-io/jetstream';
import { HEADERS, SwitchboardError, type Destination } from '@switchboard/core';
import { type ConsumerDriver, type InboundMessage, type InboundSink, type ResolvedConsumerOptions } from '@switchboard/core/driver';
import { classifyError } from './errors';
import { retryAdmin } from './admin-retry';
import { buildHeaders, matchesFilter, readHeaders } from './messages';
import { durableName, formatPosition, laneDurable, parseAckSubject, parsePosition, shardDurable, type AckInfo } from './names';
import type { NatsContext } from './session';

const enc = new TextEncoder();
const ACK = enc.encode('+ACK');
const NAK = enc.encode('-NAK');
const WPI = enc.encode('+WPI');

/**
 * How much longer than a member's `ackTimeoutMs` the server's ack_wait is: core's deadline for a
 * delivery starts when the delivery reaches the member, the server's when it sent it, and core's
 * expiry still has to reach the server as a -NAK. The backstop must not fire first.
 */
export const BACKSTOP_MARGIN_MS = 5000;

/**
 * How often an open member checks that the durable consumer still has at least its backstop (first
 * after {@link RECHECK_FIRST_MS}): two members joining at the same moment can each read the old
 * config and the smaller value can be written last (JetStream has no compare-and-set on a consumer
 * config), so the one whose value was lost widens it again. Only a write based on a read from
 * before this member's last write can lose its value, and such a write lands within that request's
 * deadline; so a member stops checking once a check made at least {@link recheckQuietMs} after its
 * last write found nothing to widen (an idle member makes two checks, not one every 15 s for ever).
 * A failed check (server away) is tried again. A member whose create made the durable consumer
 * makes no checks: every read before that create found no consumer, and a member that finds none
 * can only create one (refused when its config differs), so no write can be based on a read that
 * misses its value. (A consumer deleted and made again while an older member's update is in flight
 * is the exception, and an administrative act.)
 */
export const RECHECK_EVERY_MS = 15_000;
export const RECHECK_FIRST_MS = 1000;

/** How long after a member's last write of the consumer config its checks go on (see {@link RECHECK_EVERY_MS}). */
export function recheckQuietMs(apiTimeoutMs: number): number {
  return Math.max(RECHECK_EVERY_MS, 2 * apiTimeoutMs);
}

/**
 * The idle heartbeat asked on a push pull request that waits `expiresMs`: half of it, at most
 * 15 s (nats.js `consume()` uses 15 s on its 30 s requests); a request whose heartbeats stopped
 * for two of them is taken as lost and replaced.
 */
export function pullHeartbeatMs(expiresMs: number): number {
  return Math.min(15_000, Math.floor(expiresMs / 2));
}

/** The server-side ack_wait a member needs: its own ack deadline plus {@link BACKSTOP_MARGIN_MS}. */
export function backstopMs(ackTimeoutMs: number): number {
  return ackTimeoutMs + BACKSTOP_MARGIN_MS;
}

const nakAfter = (delayMs: number) => enc.encode(`-NAK ${JSON.stringify({ delay: nanos(delayMs) })}`);

/**
 * One reader of a member of a partitioned destination (see partitioned-consumer.ts): a shard or the
 * keyless lane, its durable consumer and filter, and the member-wide prefetch budget it shares with
 * the member's other readers.
 */
export interface ShardPart {
  /** The shard (0 .. N-1), or N for the keyless lane. */
  readonly index: number;
  /**
   * A shard: durable `<durable>_p<index>` with max_ack_pending 1. The keyless lane: durable
   * `<durable>_u`, max_ack_pending unlimited (keyless messages need no serializing).
   */
  readonly ordered: boolean;
  /** The filter of the durable consumer: the shard's subject, or the plain subject for the lane. */
  readonly filterSubjects: string[];
  /** How long this reader's pull requests wait (1 s when the member's prefetch does not cover every reader). */
  readonly pullExpiresMs: number;
  /** How many more messages the member's budget lets this reader ask for now (roomLeft in partitioned-consumer.ts). */
  room(): number;
  /** This reader's holding changed (a settle, a pull that ended): the member tops up its readers, this one last. */
  changed(): void;
}

/** What the partitioned consumer needs of one reader's driver beyond the ConsumerDriver. */
export interface ShardDriver extends ConsumerDriver<JsHandle> {
  /** Messages this reader holds, is accepting or has asked for. */
  load(): number;
  /** Tops up this reader's pull requests if the member's budget allows. */
  refill(): void;
}

/** The driver's reference to one JetStream delivery: its ack subject and what the dead letter needs. */
export interface JsHandle {
  readonly reply: string;
  readonly info: AckInfo;
  readonly msg: Msg;
  readonly id: string;
  readonly key: string | undefined;
  /** The reader it came from: its shard, N for the keyless lane (0 when unpartitioned). */
  readonly shard: number;
  /** Re-sends `+WPI` while an extension longer than ack_wait runs. */
  working: NodeJS.Timeout | undefined;
}

/** The group-level settings of a durable consumer that members' options must never narrow. */
export interface SharedConsumerSettings {
  ack_wait: number;
  max_deliver: number;
  max_ack_pending: number;
}

/**
 * What a joining member asks of its group's durable consumer, given the config already on the
 * server (absent: the member creates it). Nothing depends on the member's options except an
 * ack_wait that only grows: ack_wait = the largest {@link backstopMs} any member asked (or a larger
 * value already there), max_deliver = -1 (attempts are counted per member by core),
 * max_ack_pending = -1 (each member caps itself by its pull sizing, at its own `prefetch`). Returns
 * `undefined` when the existing config needs no update. A consumer made by an older version (its
 * max_deliver = maxAttempts + 1, an ack_wait of the last member's ackTimeoutMs, max_ack_pending
 * 10000) is widened to these values. A shard consumer (connection option `partitions`) asks
 * `maxAckPending` 1 instead: one message of the shard in flight in the whole group.
 */
export function sharedSettings(ackTimeoutMs: number, existing?: Partial<SharedConsumerSettings>, maxAckPending = -1): SharedConsumerSettings | undefined {
  const wanted: SharedConsumerSettings = {
    ack_wait: Math.max(nanos(backstopMs(ackTimeoutMs)), existing?.ack_wait ?? 0),
    max_deliver: -1,
    max_ack_pending: maxAckPending,
  };
  if (!existing) return wanted;
  const same = existing.ack_wait === wanted.ack_wait && existing.max_deliver === wanted.max_deliver && existing.max_ack_pending === wanted.max_ack_pending;
  return same ? undefined : wanted;
}

/** The durable consumer a member joined. */
interface JoinedDurable {
  stream: string;
  durable: string;
  /** Its server-side ack_wait (ms). */
  ackWaitMs: number;
  /** When its stream was created (ms since the epoch, see {@link foreignStoredId}). */
  created: number;
  /** This member's create made it (or an identical one made at the same moment): its backstop cannot be lost (see {@link RECHECK_EVERY_MS}). */
  made: boolean;
}

/**
 * Creates the durable consumer of a group, or widens an existing one (see {@link sharedSettings});
 * resolves once it exists on the server, with the ack_wait it has (ms). A bad `from` is refused
 * before the stream or the consumer is created. An existing consumer keeps its deliver policy (the
 * group resumes at its ack floor). After an update the config is read again (a member joining at
 * the same moment may have written a smaller ack_wait). A failed update of an existing consumer is
 * tolerated, never an error: the member joins with the server's config (core still applies the
 * member's own deadline and attempts).
 */
async function ensureDurable(ctx: NatsContext, source: Destination, o: ResolvedConsumerOptions, shard?: ShardPart): Promise<JoinedDurable> {
  const start = deliverPolicy(source, o);
  const { stream } = ctx.names(source);
  const base = durableName(source, o.group);
  const durable = shard ? (shard.ordered ? shardDurable(base, shard.index) : laneDurable(base)) : base;
  const maxAckPending = shard?.ordered ? 1 : -1;
  await ctx.ensureStream(source);
  const jsm = ctx.jsm!;
  const created = Date.parse((await retryAdmin(() => jsm.streams.info(stream))).created);
  const done = (cfg: Partial<ConsumerConfig>, made = false): JoinedDurable => ({ stream, durable, created, made, ackWaitMs: Math.max(1, Math.floor((cfg.ack_wait ?? 0) / 1e6)) });
  const TRIES = 4;
  let last: ConsumerConfig | undefined;
  for (let tries = 1; ; tries++) {
    let existing: ConsumerConfig | undefined;
    try {
      existing = (await retryAdmin(() => jsm.consumers.info(stream, durable))).config;
    } catch (err) {
      if (classifyError(err).code !== 'not_found') throw err;
    }
    if (existing) {
      last = existing;
      const wanted = sharedSettings(o.ackTimeoutMs, existing, maxAckPending);
      if (!wanted || tries >= TRIES) return done(existing);
      try {
        await retryAdmin(() => jsm.consumers.update(stream, durable, wanted));
      } catch (err) {
        if (classifyError(err).code !== 'not_found') return done(existing);
      }
      continue; // read it again: created, widened, or deleted meanwhile
    }
    const cfg: Partial<ConsumerConfig> = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      replay_policy: ReplayPolicy.Instant,
      ...sharedSettings(o.ackTimeoutMs, undefined, maxAckPending),
      ...start,
      ...(shard ? (shard.filterSubjects.length === 1 ? { filter_subject: shard.filterSubjects[0] } : { filter_subjects: shard.filterSubjects }) : {}),
    };
    try {
      const added = await jsm.consumers.add(stream, cfg);
      return done(added?.config ?? cfg, true);
    } catch (err) {
      // Another member created it first (with other values), or the server did not answer in time
      // (the add may have gone through): the next round reads it (asked again on a timeout) and widens it.
      if (tries >= TRIES) {
        if (last) return done(last);
        throw err;
      }
    }
  }
}

/**
 * The id of a stored message that carries neither `sb-message-id` nor `Nats-Msg-Id`:
 * `<stream>:<stream sequence>:<stream creation time, ms in base 36>`. The stream sequence is
 * the same in every redelivery and in every group (durable consumer) of a topic's stream; the
 * creation time keeps ids unique when a stream is deleted and made again (its sequence restarts at 1).
 */
export function foreignStoredId(stream: string, streamSequence: number, streamCreatedMs: number): string {
  return `${stream}:${streamSequence}:${Number.isFinite(streamCreatedMs) ? streamCreatedMs.toString(36) : '0'}`;
}

function deliverPolicy(source: Destination, o: ResolvedConsumerOptions): Partial<ConsumerConfig> {
  if (source.kind === 'queue') return { deliver_policy: DeliverPolicy.All };
  const from = o.from;
  if (from === 'earliest') return { deliver_policy: DeliverPolicy.All };
  if (from === 'latest') return { deliver_policy: DeliverPolicy.New };
  if ('position' in from) return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: parsePosition(from.position) };
  if ('offset' in from) {
    const seq = Number(from.offset);
    if (!Number.isInteger(seq) || seq < 0) throw new SwitchboardError('invalid_argument', `from.offset must be a stream sequence number (got ${String(from.offset)})`);
    return seq <= 1 ? { deliver_policy: DeliverPolicy.All } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: seq };
  }
  const t = from.timestamp instanceof Date ? from.timestamp : new Date(from.timestamp);
  if (Number.isNaN(t.getTime())) throw new SwitchboardError('invalid_argument', 'from.timestamp is not a valid time');
  return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: t.toISOString() };
}

/**
 * One subscription for push pull requests, one request open at a time: JetStream delivers a stored
 * message with its stream subject, not the request's reply subject, so only the subscription tells
 * which request it filled (and the server may share messages between open requests).
 */
interface PushLane {
  inbox: string;
  sub: NatsSubscription | undefined;
  /** The open request and its token (the last token of its reply subject `<inbox>.<n>`). */
  open: { n: number; rq: PullRequest } | undefined;
}

interface PullRequest {
  remaining: number;
  timer: NodeJS.Timeout;
  /** Set for a fetch: messages are collected here instead of pushed. */
  got: Msg[] | undefined;
  done: () => void;
}

/**
 * A member of a group on a JetStream destination. Pulls with its own pull requests
 * ($JS.API.CONSUMER.MSG.NEXT) on a private inbox, never holding more than `prefetch` unsettled
 * deliveries; `fetch` is a native pull (no_wait, then expires = waitMs). The ack deadline is the
 * member's own (`ackTimeoutMs`, emulated by core, which -NAKs at expiry through `retry(h, 0)`); the
 * durable consumer's ack_wait is only a backstop for a member that died (see {@link sharedSettings}).
 * `extend` restarts core's deadline and sends `+WPI` so the backstop does not fire first (declared
 * as `native: { extend: true }` without `ackTimeout`); a nack with a delay is `-NAK {"delay"}`.
 * Attempts and `maxAttempts` are the member's own, applied by core from the delivery count.
 * Acks, naks, terms and `+WPI` are requests that wait for the server's answer.
 */
export async function openJetStreamConsumer(ctx: NatsContext, source: Destination, o: ResolvedConsumerOptions, shard?: ShardPart): Promise<ShardDriver> {
  const joined = await ensureDurable(ctx, source, o, shard);
  const { stream, durable } = joined;
  // NATS requests on the destination's request subject go into the stream (see RequestListener);
  // a partitioned member listens once (with its shard 0).
  const stopListening = shard !== undefined && shard.index > 0 ? undefined : await ctx.requests.listen(source);
  /** The server's ack_wait as last seen (only grows while this member runs). */
  let ackWaitMs = joined.ackWaitMs;
  const nextSubject = `$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`;
  const atMostOnce = o.ackMode === 'at-most-once';
  /** The server's idle heartbeat on a waiting push pull request (see {@link pullHeartbeatMs}). */
  const heartbeatMs = pullHeartbeatMs(shard?.pullExpiresMs ?? ctx.options.pullExpiresMs);
  /** Acks written without waiting for the server's answer (the connection's `ackConfirm: false`). */
  const ackUnconfirmed = !ctx.options.ackConfirm;
  const requests = new Set<PullRequest>();
  /**
   * The two lanes of push pull requests (at most one open request each, see {@link pushPull}); a
   * lane's subscription is made when it is first used and ends when pushing stops.
   */
  const lanes: PushLane[] = [
    { inbox: '', sub: undefined, open: undefined },
    { inbox: '', sub: undefined, open: undefined },
  ];
  /** Handed to core and not settled yet: at most `prefetch` of them. */
  const unsettled = new Set<JsHandle>();
  let reqSeq = 0;
  let accepting = 0;
  let closed = false;
  let pushing = false;
  let sink: InboundSink<JsHandle> | undefined;
  /** A pull could not be sent (connection closing): the next attempt waits for this timer. */
  let retryTimer: NodeJS.Timeout | undefined;
  /** Widens the durable consumer again if a member joining at the same moment wrote a smaller backstop. */
  let recheckTimer: NodeJS.Timeout | undefined;
  /** When this member last wrote the consumer config (joining counts as one). */
  let lastWrite = Date.now();
  /** Resolves true when another check is needed: it widened the config, failed, or is too early to be the last. */
  const recheck = async (): Promise<boolean> => {
    const at = Date.now();
    try {
      const cfg = (await ctx.jsm!.consumers.info(stream, durable)).config;
      const wanted = sharedSettings(o.ackTimeoutMs, cfg, shard?.ordered ? 1 : -1);
      const now = wanted ? (await ctx.jsm!.consumers.update(stream, durable, wanted)).config : cfg;
      ackWaitMs = Math.max(1, Math.floor((now.ack_wait ?? 0) / 1e6));
      if (wanted) lastWrite = Date.now();
      return wanted !== undefined || at < lastWrite + recheckQuietMs(ctx.options.apiTimeoutMs);
    } catch {
      return true; // tolerated (server away, consumer deleted, update refused): the next round tries again
    }
  };
  const scheduleRecheck = (ms: number) => {
    recheckTimer = setTimeout(() => {
      void recheck().then((again) => {
        if (again && !closed) scheduleRecheck(RECHECK_EVERY_MS);
      });
    }, ms);
    recheckTimer.unref?.();
  };
  if (!joined.made) scheduleRecheck(RECHECK_FIRST_MS);
  /** Something changed what prefetch allows (a settle, an accepted message, a pull that ended): top up. */
  const kick = () => {
    // A shard lets the member top up all its shards, this one last (a scarce prefetch goes round).
    if (shard) shard.changed();
    else if (pushing && !closed) topUp();
  };

  /** A settle the server answers (one shared reply subscription per connection, see createAckRequests). */
  const ackRequest = (reply: string, payload: Uint8Array): Promise<void> => ctx.acks.send(reply, payload);

  const delayKey = (info: AckInfo) => `${info.stream}:${info.consumer}:${info.streamSequence}`;
  /** Forgets the delay -NAKs of a settled message (the map is empty unless delayed messages came early). */
  const forgetDelays = (info: AckInfo) => {
    if (ctx.delayNaks.size > 0) ctx.delayNaks.delete(delayKey(info));
  };

  const stopWorking = (h: JsHandle) => {
    if (h.working) clearInterval(h.working);
    h.working = undefined;
  };

  /** Sends a settle; once the server took it the handle no longer counts against prefetch. */
  const settle = async (h: JsHandle, payload: Uint8Array, final: boolean) => {
    await ackRequest(h.reply, payload);
    stopWorking(h);
    if (final) forgetDelays(h.info);
    if (unsettled.delete(h)) kick();
  };

  /**
   * `ackConfirm: false`: `+ACK` is written to the connection without a reply subject and the ack
   * resolves at once; a lost ack (connection cut before the server read it, consumer gone) is not
   * reported, the server redelivers the message after ack_wait.
   */
  const ackNoWait = (h: JsHandle): Promise<void> => {
    try {
      ctx.nc.publish(h.reply, ACK);
    } catch (err) {
      return Promise.reject(classifyError(err));
    }
    stopWorking(h);
    forgetDelays(h.info);
    if (unsettled.delete(h)) kick();
    return Promise.resolve();
  };

  const deadLetter = async (h: JsHandle, to: Destination, headers: Record<string, string>) => {
    const dl = { id: h.id, body: h.msg.data, key: h.key, headers, delayMs: undefined };
    // Dedup on the dead-letter stream: a retried dead-lettering of one message stores it once.
    await ctx.publishStored(to, dl, buildHeaders(dl), `dl:${stream}:${durable}:${h.info.streamSequence}`);
    const reason = (headers[HEADERS.deadLetterReason] ?? '').replace(/[\r\n]+/g, ' ').slice(0, 200);
    await settle(h, enc.encode(`+TERM ${reason}`), true);
  };

  const release = async (h: JsHandle) => {
    stopWorking(h);
    if (unsettled.delete(h)) kick();
    await ackRequest(h.reply, NAK).catch(() => undefined); // if lost, it comes back after ack_wait
  };

  /**
   * Turns a stored message into what core hands out, or handles it without core: early delayed
   * messages are naked for the rest of their delay, non-matching ones are acked for this group.
   * In at-most-once mode the message is acked before it is handed out. (A final attempt lost to
   * the backstop, e.g. by a member that died, comes back, max_deliver being unlimited, and core
   * dead-letters it as overdue.)
   */
  const accept = async (msg: Msg): Promise<InboundMessage<JsHandle> | undefined> => {
    const info = msg.reply ? parseAckSubject(msg.reply) : undefined;
    if (!info) return undefined;
    const reply = msg.reply!;
    const r = readHeaders(msg.headers);
    if (r.notBefore !== undefined && r.notBefore > Date.now() + 2) {
      const now = Date.now();
      const key = delayKey(info);
      ctx.delayNaks.set(key, (ctx.delayNaks.get(key) ?? 0) + 1);
      await ackRequest(reply, nakAfter(r.notBefore - now + 5)).catch(() => undefined);
      return undefined;
    }
    if (!matchesFilter(r.user, o.filter)) {
      await ackRequest(reply, ACK).catch(() => undefined);
      return undefined;
    }
    const attempt = Math.max(1, info.deliveryCount - (ctx.delayNaks.size > 0 ? (ctx.delayNaks.get(delayKey(info)) ?? 0) : 0));
    const handle: JsHandle = { reply, info, msg, id: r.id ?? foreignStoredId(stream, info.streamSequence, joined.created), key: r.key, shard: shard?.index ?? 0, working: undefined };
    if (atMostOnce) {
      try {
        await ackRequest(reply, ACK);
      } catch {
        return undefined; // not acked: it comes back after ack_wait, so do not hand it out now
      }
    } else unsettled.add(handle);
    return {
      handle,
      id: handle.id,
      body: msg.data,
      key: r.key,
      headers: r.user,
      attempt,
      receipt: String(info.streamSequence),
      position: formatPosition(source, info.streamSequence),
      timestamp: new Date(Math.floor(info.timestampNanos / 1e6)),
      replyTo: r.replyTo,
      correlationId: r.correlationId,
    };
  };

  /** Accepts a pushed message and hands it to core (which releases it when nobody wants it). */
  const push = (msg: Msg) => {
    accepting += 1;
    void accept(msg)
      .then((m) => {
        if (!m) return;
        if (sink) sink.deliver(m);
        else void release(m.handle);
      })
      .catch(() => undefined)
      .finally(() => {
        accepting -= 1;
        kick();
      });
  };

  /** What a pull request's inbox got: a status ends it, a stored message is collected or pushed. */
  const onPullMessage = (rq: PullRequest | undefined, msg: Msg) => {
    const code = msg.headers?.code ?? 0;
    if (code > 0 && msg.data.byteLength === 0 && !msg.reply) {
      if (code !== 100) rq?.done();
      return;
    }
    if (rq?.got && requests.has(rq)) rq.got.push(msg);
    else if (pushing && !closed) push(msg);
    // A fetch's message after the fetch ended (a race with UNSUB): back to the broker.
    else if (msg.reply) void ackRequest(msg.reply, NAK).catch(() => undefined);
    if (rq) {
      rq.remaining -= 1;
      if (rq.remaining <= 0) rq.done();
    }
  };

  const pullBody = (batch: number, expiresMs: number, noWait: boolean, heartbeatMs = 0): Uint8Array => {
    const body: Record<string, unknown> = { batch };
    if (noWait) body.no_wait = true;
    if (expiresMs > 0) body.expires = nanos(expiresMs);
    if (heartbeatMs > 0) body.idle_heartbeat = nanos(heartbeatMs);
    return enc.encode(JSON.stringify(body));
  };

  /**
   * A fetch's pull request, on its own inbox (unsubscribed when it ends, so the server drops what
   * is left of it); resolves when it ends: batch filled, the server's 404 / 408 / 409 status (no
   * messages, expired, limits), or a client-side deadline.
   */
  const pull = (batch: number, expiresMs: number, noWait: boolean, collect: Msg[]): Promise<void> =>
    new Promise<void>((resolve) => {
      const inbox = `${createInbox()}.${++reqSeq}`;
      let sub: NatsSubscription | undefined;
      const rq: PullRequest = {
        remaining: batch,
        got: collect,
        timer: setTimeout(() => rq.done(), (expiresMs > 0 ? expiresMs : 1000) + 1000),
        done: () => {
          if (!requests.has(rq)) return;
          requests.delete(rq);
          clearTimeout(rq.timer);
          try {
            sub?.unsubscribe();
          } catch {
            /* connection gone */
          }
          resolve();
        },
      };
      requests.add(rq);
      try {
        sub = ctx.nc.subscribe(inbox, { callback: (err, msg) => (err ? rq.done() : onPullMessage(rq, msg)) });
        ctx.nc.publish(nextSubject, pullBody(batch, expiresMs, noWait), { reply: inbox });
      } catch {
        rq.done();
      }
    });

  /**
   * A push pull request for `batch` messages on a free lane, replied to `<lane inbox>.<n>`: no
   * subscription per pull. It ends on the server's status (expired after `pullExpiresMs`, 404 /
   * 409; a status of an older request of the lane is ignored by its token), when filled, when the
   * client reconnected, or when the server's idle heartbeats (every `heartbeatMs`) stopped for two
   * of them; then {@link topUp} runs again. So an idle member sends one pull request per
   * `pullExpiresMs` and gets a heartbeat per `heartbeatMs`, and has no timer of its own beyond that
   * request's deadline (refreshed, not re-created, by each message).
   */
  const pushPull = (lane: PushLane, batch: number): boolean => {
    if (!lane.sub) {
      lane.inbox = createInbox();
      const base = lane.inbox.length + 1;
      lane.sub = ctx.nc.subscribe(`${lane.inbox}.*`, {
        callback: (err, msg) => {
          if (err) return;
          const open = lane.open;
          // A status names its request by token; a stored message belongs to the lane's open request.
          const isStatus = (msg.headers?.code ?? 0) > 0 && msg.data.byteLength === 0 && !msg.reply;
          if (isStatus && open && Number(msg.subject.slice(base)) !== open.n) return;
          open?.rq.timer.refresh();
          onPullMessage(open?.rq, msg);
        },
      });
    }
    const n = ++reqSeq;
    const expiresMs = shard?.pullExpiresMs ?? ctx.options.pullExpiresMs;
    const rq: PullRequest = {
      remaining: batch,
      got: undefined,
      timer: setTimeout(() => rq.done(), Math.min(expiresMs, 2 * heartbeatMs) + 1000),
      done: () => {
        if (lane.open?.rq !== rq) return;
        lane.open = undefined;
        requests.delete(rq);
        clearTimeout(rq.timer);
        kick();
      },
    };
    rq.timer.unref?.();
    lane.open = { n, rq };
    requests.add(rq);
    try {
      ctx.nc.publish(nextSubject, pullBody(batch, expiresMs, false, heartbeatMs), { reply: `${lane.inbox}.${n}` });
      return true;
    } catch {
      lane.open = undefined;
      requests.delete(rq);
      clearTimeout(rq.timer);
      return false;
    }
  };

  /** The client reconnected: the server may have lost the open push requests, so they are replaced. */
  const forgetReconnect = ctx.onReconnect(() => {
    for (const lane of lanes) lane.open?.rq.done();
  });

  /** Keeps push pull requests open for what prefetch allows (called whenever that may have changed). */
  const topUp = () => {
    if (retryTimer) return;
    let asked = 0;
    let open = 0;
    let free: PushLane | undefined;
    for (const lane of lanes) {
      if (lane.open) {
        open += 1;
        asked += lane.open.rq.remaining;
      } else free ??= lane;
    }
    let want = o.prefetch - (atMostOnce ? 0 : unsettled.size) - accepting - asked;
    if (shard) want = Math.min(want, shard.room());
    if (free && want > 0 && (open === 0 || want >= Math.max(1, Math.floor(o.prefetch / 2)))) {
      if (!pushPull(free, want)) {
        retryTimer = setTimeout(() => {
          retryTimer = undefined;
          kick();
        }, 250);
        retryTimer.unref?.();
      }
    }
  };

  /** Ends the push pull requests and their subscription (the UNSUB reaches the server before any later -NAK). */
  const stopPushing = async () => {
    pushing = false;
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = undefined;
    for (const lane of lanes) {
      lane.open?.rq.done();
      try {
        lane.sub?.unsubscribe();
      } catch {
        /* connection gone */
      }
      lane.sub = undefined;
    }
  };

  return {
    // The deadline is per member (core's timer); extend also pushes the server's backstop.
    native: { extend: true },

    load() {
      let asked = 0;
      for (const lane of lanes) asked += lane.open?.rq.remaining ?? 0;
      return (atMostOnce ? 0 : unsettled.size) + accepting + asked;
    },

    refill() {
      if (pushing && !closed) topUp();
    },

    start(s) {
      sink = s;
      pushing = true;
      topUp();
    },

    stop: stopPushing,

    async fetch(max, waitMs, signal) {
      const room = atMostOnce ? max : Math.min(max, o.prefetch - unsettled.size);
      if (room <= 0 || closed) return [];
      const got: Msg[] = [];
      await pull(room, 0, true, got);
      if (got.length === 0 && waitMs > 0 && !signal?.aborted) {
        const before = new Set(requests);
        const p = pull(1, waitMs, false, got);
        const mine = [...requests].filter((r) => !before.has(r));
        const onAbort = () => mine.forEach((r) => r.done());
        signal?.addEventListener('abort', onAbort, { once: true });
        await p;
        signal?.removeEventListener('abort', onAbort);
        if (got.length > 0 && room > 1 && !signal?.aborted) await pull(room - 1, 0, true, got);
      }
      const out: InboundMessage<JsHandle>[] = [];
      for (const msg of got) {
        const m = await accept(msg);
        if (m) out.push(m);
      }
      return out;
    },

    ack: (h) => (ackUnconfirmed ? ackNoWait(h) : settle(h, ACK, true)),
    retry: (h, delayMs) => settle(h, delayMs > 0 ? nakAfter(delayMs) : NAK, false),
    deadLetter,
    release,

    async extend(h, ms) {
      await ackRequest(h.reply, WPI);
      stopWorking(h);
      // +WPI restarts a full ack_wait (the backstop). Core's own deadline is now `ms` away; the
      // backstop must outlast it by the margin, so repeat +WPI until the last one covers that.
      const until = Date.now() + backstopMs(ms);
      let lastSent = Date.now();
      if (lastSent + ackWaitMs >= until) return;
      h.working = setInterval(
        () => {
          if (lastSent + ackWaitMs >= until) return stopWorking(h);
          lastSent = Date.now();
          void ackRequest(h.reply, WPI).catch(() => undefined);
        },
        Math.max(50, Math.floor(ackWaitMs * 0.6)),
      );
      h.working.unref?.();
    },

    async close() {
      closed = true;
      sink = undefined;
      forgetReconnect();
      stopListening?.();
      if (recheckTimer) clearTimeout(recheckTimer);
      await stopPushing();
      for (const r of [...requests]) r.done();
      for (const h of unsettled) stopWorking(h);
      unsettled.clear();
    },
  };
}
