import { headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { HEADERS, type Destination } from '@switchboard/core';
import type { DriverHost } from '@switchboard/core/driver';
import { classifyError } from './errors';
import { firstValue, NATS_MSG_ID } from './messages';
import type { NatsContext } from './session';

/** The queue group of every Switchboard connection listening for requests on JetStream destinations. */
export const REQUEST_QUEUE_GROUP = 'sb-requests';

/** Where NATS requests for a connection's JetStream consumers are taken in. */
export interface RequestListener {
  /**
   * Takes in requests for `d` from now on (once the server has the subscription): they are stored
   * in `d`'s stream. Returns the function that stops it.
   */
  listen(d: Destination): Promise<() => void>;
  /** Stops every subscription (the connection closes). */
  close(): void;
}

/**
 * NATS requests on the request subjects of JetStream destinations (see requestSubject), for every
 * consumer of one connection: one subscription per destination kind, `<subjectPrefix>.rq.>` and
 * `<subjectPrefix>.rt.>` in queue group {@link REQUEST_QUEUE_GROUP}, held while at least one
 * consumer of that kind listens, instead of one subscription per consumer.
 *
 * The server hands each request to one member of the queue group, on any Switchboard connection
 * that listens, whichever destinations it consumes. A request for a destination consumed here is
 * stored in its stream (made if missing). A request for another destination is stored only when
 * its stream exists, where a consumer of it will take it; without a stream the requester gets a 503
 * (no responders), as if nobody listened: a Switchboard requester then stores it itself.
 */
export function createRequestListener(nc: NatsConnection, subjectPrefix: string, store: NatsContext['store'], host: DriverHost): RequestListener {
  /** Per kind: its subscription, the destinations consumed here (with their listener counts), and the flush after subscribing. */
  const kinds = new Map<Destination['kind'], { sub: Subscription; consumed: Map<string, number>; ready: Promise<void> }>();

  const take = (kind: Destination['kind'], consumed: ReadonlyMap<string, number>, base: number, msg: Msg) => {
    const d: Destination = { kind, name: msg.subject.slice(base) };
    const local = consumed.has(d.name);
    storeRequest(store, d, msg, !local).catch((err: unknown) => {
      const e = classifyError(err);
      if (!local && e.code === 'not_found') {
        if (msg.reply) nc.publish(msg.reply, new Uint8Array(0), { headers: natsHeaders(503, 'No Responders') });
        return;
      }
      host.report({ origin: 'background', error: e, destination: `${d.kind}:${d.name}` }, `nats: could not store a request that arrived on ${msg.subject}`);
    });
  };

  const open = (kind: Destination['kind']) => {
    const prefix = `${subjectPrefix}.${kind === 'queue' ? 'rq' : 'rt'}.`;
    const consumed = new Map<string, number>();
    const sub = nc.subscribe(`${prefix}>`, {
      queue: REQUEST_QUEUE_GROUP,
      callback: (err, msg) => {
        if (!err) take(kind, consumed, prefix.length, msg);
      },
    });
    const entry = { sub, consumed, ready: nc.flush() };
    entry.ready.catch(() => undefined);
    kinds.set(kind, entry);
    return entry;
  };

  const unsubscribe = (sub: Subscription) => {
    try {
      sub.unsubscribe();
    } catch {
      /* the connection is gone */
    }
  };

  return {
    async listen(d) {
      const entry = kinds.get(d.kind) ?? open(d.kind);
      entry.consumed.set(d.name, (entry.consumed.get(d.name) ?? 0) + 1);
      let stopped = false;
      const stop = () => {
        if (stopped) return;
        stopped = true;
        const n = (entry.consumed.get(d.name) ?? 1) - 1;
        if (n > 0) entry.consumed.set(d.name, n);
        else entry.consumed.delete(d.name);
        if (entry.consumed.size === 0 && kinds.get(d.kind) === entry) {
          kinds.delete(d.kind);
          unsubscribe(entry.sub);
        }
      };
      try {
        await entry.ready;
      } catch (err) {
        stop();
        throw classifyError(err);
      }
      return stop;
    },
    close() {
      for (const { sub } of kinds.values()) unsubscribe(sub);
      kinds.clear();
    },
  };
}

/**
 * Stores a NATS request (a core message on a destination's request subject) in the destination's
 * stream, so it is delivered like any message of the destination, with its reply subject as
 * `sb-reply-to` (where the consumer's respond() answers). Its own headers travel as sent; its
 * `Nats-Msg-Id` (or `sb-message-id`) is the stream's dedup id. `existing`: only into a stream that
 * is there (else `not_found`).
 */
export async function storeRequest(store: NatsContext['store'], d: Destination, msg: Msg, existing: boolean): Promise<void> {
  const h = natsHeaders();
  let msgId: string | undefined;
  if (msg.headers) {
    for (const k of msg.headers.keys()) {
      if (k === HEADERS.replyTo) continue;
      for (const v of msg.headers.values(k)) h.append(k, v);
    }
    if (msg.headers.has(NATS_MSG_ID)) msgId = firstValue(msg.headers, NATS_MSG_ID);
    else if (msg.headers.has(HEADERS.messageId)) msgId = firstValue(msg.headers, HEADERS.messageId);
  }
  if (msg.reply) h.set(HEADERS.replyTo, msg.reply);
  const key = msg.headers?.has(HEADERS.key) ? firstValue(msg.headers, HEADERS.key) : undefined;
  await store(d, msg.data, h, msgId, key, existing);
}
