import { createInbox, nanos, type Msg, type Subscription as NatsSubscription } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, ReplayPolicy, type ConsumerConfig } from '@nats-io/jetstream';
import {
  createConsumer,
  createDelivery,
  formatDestination,
  HEADERS,
  SwitchboardError,
  type Consumer,
  type Delivery,
  type DeliverySettler,
  type Destination,
  type NormalizedMessage,
  type ResolvedConsumerOptions,
} from '@switchboard/core';
import { classifyError } from './errors';
import { buildHeaders, matchesFilter, publishReply, readHeaders } from './messages';
import { durableName, parseAckSubject, type AckInfo } from './names';
import type { NatsContext } from './connection';

const enc = new TextEncoder();
const ACK = enc.encode('+ACK');
const NAK = enc.encode('-NAK');
const WPI = enc.encode('+WPI');
const MAX_ACK_PENDING = 10_000;

/** Creates or updates the durable consumer of a group; resolves once it exists on the server. */
async function ensureDurable(ctx: NatsContext, source: Destination, o: ResolvedConsumerOptions): Promise<{ stream: string; durable: string }> {
  const { stream } = ctx.names(source);
  const durable = durableName(source, o.group);
  await ctx.ensureStream(source);
  const jsm = ctx.jsm!;
  const wanted = {
    ack_wait: nanos(o.ackTimeoutMs),
    max_deliver: o.maxAttempts === undefined ? -1 : o.maxAttempts + 1,
    max_ack_pending: MAX_ACK_PENDING,
  };
  for (let tries = 0; ; tries++) {
    let existing: ConsumerConfig | undefined;
    try {
      existing = (await jsm.consumers.info(stream, durable)).config;
    } catch (err) {
      if (classifyError(err).code !== 'not_found') throw err;
    }
    try {
      if (existing) {
        if (existing.ack_wait !== wanted.ack_wait || existing.max_deliver !== wanted.max_deliver || existing.max_ack_pending !== wanted.max_ack_pending) {
          await jsm.consumers.update(stream, durable, wanted);
        }
        return { stream, durable };
      }
      const cfg: Partial<ConsumerConfig> = {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        replay_policy: ReplayPolicy.Instant,
        ...wanted,
        ...deliverPolicy(source, o),
      };
      await jsm.consumers.add(stream, cfg);
      return { stream, durable };
    } catch (err) {
      if (tries >= 2) throw err;
    }
  }
}

function deliverPolicy(source: Destination, o: ResolvedConsumerOptions): Partial<ConsumerConfig> {
  if (source.kind === 'queue') return { deliver_policy: DeliverPolicy.All };
  const from = o.from;
  if (from === 'earliest') return { deliver_policy: DeliverPolicy.All };
  if (from === 'latest') return { deliver_policy: DeliverPolicy.New };
  if ('offset' in from) {
    const seq = Number(from.offset);
    if (!Number.isInteger(seq) || seq < 0) throw new SwitchboardError('invalid_argument', `from.offset must be a stream sequence number (got ${String(from.offset)})`);
    return seq <= 1 ? { deliver_policy: DeliverPolicy.All } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: seq };
  }
  const t = from.timestamp instanceof Date ? from.timestamp : new Date(from.timestamp);
  if (Number.isNaN(t.getTime())) throw new SwitchboardError('invalid_argument', 'from.timestamp is not a valid time');
  return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: t.toISOString() };
}

interface PullRequest {
  remaining: number;
  timer: NodeJS.Timeout;
  got: Msg[] | undefined;
  done: () => void;
}

/**
 * A member of a group on a JetStream destination. Pulls with its own pull requests
 * ($JS.API.CONSUMER.MSG.NEXT) on a private inbox, never holding more than `prefetch` unsettled
 * deliveries; acks, naks and terms wait for the server's answer.
 */
export async function createJetStreamConsumer(ctx: NatsContext, source: Destination, o: ResolvedConsumerOptions): Promise<Consumer> {
  const { stream, durable } = await ensureDurable(ctx, source, o);
  const nextSubject = `$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`;
  const inboxBase = createInbox();
  const requests = new Set<PullRequest>();
  /** Deliveries handed out and not settled yet, with their ack subject. */
  const unsettled = new Map<Delivery, string>();
  const extendTimers = new Map<Delivery, NodeJS.Timeout>();
  let reqSeq = 0;
  let outstanding = 0;
  let accepting = 0;
  let closed = false;
  let push: ((d: Delivery) => void) | undefined;
  let wake: (() => void) | undefined;
  const kick = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  const ackRequest = async (reply: string, payload: Uint8Array): Promise<void> => {
    try {
      await ctx.nc.request(reply, payload, { timeout: ctx.options.apiTimeoutMs });
    } catch (err) {
      throw classifyError(err);
    }
  };

  const delayKey = (info: AckInfo) => `${info.stream}:${info.consumer}:${info.streamSequence}`;

  const deadLetter = async (msg: Msg, info: AckInfo, attempt: number, reason: string) => {
    const r = readHeaders(msg.headers);
    const dl: NormalizedMessage = {
      id: r.id ?? `${stream}:${info.streamSequence}`,
      body: msg.data,
      key: r.key,
      headers: {
        ...r.user,
        [HEADERS.deadLetterReason]: reason,
        [HEADERS.deadLetterAttempts]: String(attempt),
        [HEADERS.deadLetterSource]: formatDestination(source),
        [HEADERS.deadLetterSourceRef]: String(info.streamSequence),
      },
      delayMs: undefined,
    };
    const h = buildHeaders(dl, {}, false);
    // Dedup on the dead-letter stream: a retried dead-lettering of one message stores it once.
    const dedupId = `dl:${stream}:${durable}:${info.streamSequence}`;
    await ctx.publishStored(o.deadLetter, dl, h, dedupId);
    await ackRequest(msg.reply!, enc.encode(`+TERM ${reason.replace(/[\r\n]+/g, ' ').slice(0, 200)}`));
    ctx.delayNaks.delete(delayKey(info));
  };

  const settled = (d: Delivery) => {
    if (unsettled.delete(d)) {
      outstanding -= 1;
      const t = extendTimers.get(d);
      if (t) clearInterval(t);
      extendTimers.delete(d);
      kick();
    }
  };

  const makeDelivery = (msg: Msg, info: AckInfo, attempt: number, preAcked: boolean): Delivery => {
    const r = readHeaders(msg.headers);
    const reply = msg.reply!;
    let d: Delivery;
    const after = <T>(p: Promise<T>): Promise<T> =>
      p.then((v) => {
        settled(d);
        ctx.delayNaks.delete(delayKey(info));
        return v;
      });
    const settler: DeliverySettler = {
      ack: () => after(ackRequest(reply, ACK)),
      nack: (delayMs, reason) => {
        if (o.maxAttempts !== undefined && attempt >= o.maxAttempts) {
          return after(deadLetter(msg, info, attempt, reason || `nacked on the final attempt (${attempt} of ${o.maxAttempts})`));
        }
        const payload = delayMs && delayMs > 0 ? enc.encode(`-NAK ${JSON.stringify({ delay: nanos(delayMs) })}`) : NAK;
        return after(ackRequest(reply, payload));
      },
      extend: async (ms) => {
        await ackRequest(reply, WPI);
        const old = extendTimers.get(d);
        if (old) clearInterval(old);
        extendTimers.delete(d);
        if (ms > o.ackTimeoutMs) {
          // +WPI restarts a full ack_wait; repeat it until the last one covers the requested time.
          const until = Date.now() + ms;
          let lastSent = Date.now();
          const every = Math.max(50, Math.floor(o.ackTimeoutMs * 0.6));
          const t = setInterval(() => {
            if (lastSent + o.ackTimeoutMs >= until || d.state !== 'pending') {
              clearInterval(t);
              extendTimers.delete(d);
              return;
            }
            lastSent = Date.now();
            void ackRequest(reply, WPI).catch(() => undefined);
          }, every);
          t.unref?.();
          extendTimers.set(d, t);
        }
      },
      reject: (reason) => after(deadLetter(msg, info, attempt, reason || 'rejected')),
      respond: (replyTo, correlationId, m) => publishReply(ctx.nc, replyTo, correlationId, m),
    };
    d = createDelivery(
      {
        id: r.id ?? `${stream}:${info.streamSequence}`,
        body: msg.data,
        key: r.key,
        headers: r.user,
        attempt,
        destination: source.name,
        receipt: String(info.streamSequence),
        timestamp: new Date(Math.floor(info.timestampNanos / 1e6)),
        replyTo: r.replyTo,
        correlationId: r.correlationId,
        preAcked,
      },
      settler,
      ctx.capabilities,
    );
    if (!preAcked) {
      unsettled.set(d, reply);
      outstanding += 1;
    }
    return d;
  };

  /**
   * Turns a stored message into a delivery, or handles it without one: early delayed messages are
   * naked for the rest of their delay, non-matching ones are acked for this group, attempts past
   * maxAttempts (a final attempt lost to the ack timeout) are dead-lettered.
   */
  const accept = async (msg: Msg): Promise<Delivery | undefined> => {
    const info = msg.reply ? parseAckSubject(msg.reply) : undefined;
    if (!info) return undefined;
    const r = readHeaders(msg.headers);
    const key = delayKey(info);
    const now = Date.now();
    if (r.notBefore !== undefined && r.notBefore > now + 2) {
      ctx.delayNaks.set(key, (ctx.delayNaks.get(key) ?? 0) + 1);
      await ackRequest(msg.reply!, enc.encode(`-NAK ${JSON.stringify({ delay: nanos(r.notBefore - now + 5) })}`)).catch(() => undefined);
      return undefined;
    }
    const attempt = Math.max(1, info.deliveryCount - (ctx.delayNaks.get(key) ?? 0));
    if (!matchesFilter(r.user, o.filter)) {
      await ackRequest(msg.reply!, ACK).catch(() => undefined);
      return undefined;
    }
    if (o.maxAttempts !== undefined && attempt > o.maxAttempts) {
      await deadLetter(msg, info, attempt - 1, `not acked within the ack timeout on the final attempt (${o.maxAttempts})`).catch(() => undefined);
      return undefined;
    }
    if (o.ackMode === 'at-most-once') {
      try {
        await ackRequest(msg.reply!, ACK);
      } catch {
        return undefined; // not acked: it comes back after ack_wait, so do not hand it out now
      }
      return makeDelivery(msg, info, attempt, true);
    }
    return makeDelivery(msg, info, attempt, false);
  };

  /** A message that reached this member but no poll or push wants: back to the broker. */
  const stray = (msg: Msg) => {
    if (push && !closed) {
      void accept(msg).then((d) => d && push?.(d));
      return;
    }
    if (msg.reply) void ackRequest(msg.reply, NAK).catch(() => undefined);
  };

  /**
   * Sends a pull request on its own inbox; resolves when it ends: batch filled, the server's
   * 404 / 408 / 409 status (no messages, expired, limits), or a client-side deadline.
   */
  const pull = (batch: number, expiresMs: number, noWait: boolean, collect: Msg[] | undefined): Promise<void> =>
    new Promise<void>((resolve) => {
      const inbox = `${inboxBase}.${++reqSeq}`;
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
        sub = ctx.nc.subscribe(inbox, {
          callback: (err, msg) => {
            if (err) return rq.done();
            const code = msg.headers?.code ?? 0;
            if (code > 0 && msg.data.byteLength === 0 && !msg.reply) {
              if (code !== 100) rq.done();
              return;
            }
            if (!requests.has(rq)) return stray(msg);
            rq.remaining -= 1;
            if (rq.got) rq.got.push(msg);
            else {
              accepting += 1;
              void accept(msg)
                .then((d) => {
                  if (!d) return;
                  if (push && !closed) push(d);
                  else void release(d);
                })
                .catch(() => undefined)
                .finally(() => {
                  accepting -= 1;
                  kick();
                });
            }
            if (rq.remaining <= 0) rq.done();
          },
        });
        const body: Record<string, unknown> = { batch };
        if (noWait) body.no_wait = true;
        if (expiresMs > 0) body.expires = nanos(expiresMs);
        ctx.nc.publish(nextSubject, enc.encode(JSON.stringify(body)), { reply: inbox });
      } catch {
        rq.done();
      }
    });

  let pumping: Promise<void> | undefined;
  const pump = async () => {
    while (push && !closed) {
      let open = 0;
      let asked = 0;
      for (const r of requests) {
        if (r.got) continue;
        open += 1;
        asked += r.remaining;
      }
      const held = (o.ackMode === 'at-most-once' ? 0 : outstanding) + accepting;
      const want = o.prefetch - held - asked;
      if (want > 0 && (open === 0 || (open < 2 && want >= Math.max(1, Math.floor(o.prefetch / 2))))) {
        void pull(want, ctx.options.pullExpiresMs, false, undefined).then(kick);
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        const t = setTimeout(resolve, 250);
        t.unref?.();
      });
    }
  };

  /**
   * Gives a delivery back to the broker (-NAK) without settling the Delivery object: a handler
   * that still holds it may ack it later, which the server then takes as the ack of the message.
   */
  const release = async (d: Delivery) => {
    const reply = unsettled.get(d);
    if (reply === undefined) return;
    settled(d);
    await ackRequest(reply, NAK).catch(() => undefined); // if lost, it comes back after ack_wait
  };


  const poll = async (max: number, waitMs: number, signal: AbortSignal | undefined): Promise<Delivery[]> => {
    const room = o.ackMode === 'at-most-once' ? max : Math.min(max, o.prefetch - outstanding);
    if (room <= 0) return [];
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
    const out: Delivery[] = [];
    for (const m of got) {
      const d = await accept(m);
      if (d) out.push(d);
    }
    return out;
  };

  return createConsumer({
    source,
    group: o.group,
    startPush(deliver) {
      push = deliver;
      pumping = pump();
      return {
        stop: async () => {
          push = undefined;
          // End our pull requests first (UNSUB reaches the server before any later -NAK), so
          // nothing is pushed to this member any more.
          for (const r of [...requests]) if (!r.got) r.done();
          kick();
          await pumping;
        },
      };
    },
    poll,
    release,
    close: async () => {
      closed = true;
      push = undefined;
      for (const r of [...requests]) r.done();
      kick();
      await pumping;
      await Promise.allSettled([...unsettled.keys()].map((d) => release(d)));
      for (const t of extendTimers.values()) clearInterval(t);
      extendTimers.clear();
    },
  });
}
