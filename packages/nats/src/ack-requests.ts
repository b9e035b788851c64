import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { SwitchboardError } from '@switchboard/core';
import { classifyError } from './errors';

/** What {@link createAckRequests} needs of a connection: subscribe and publish. */
export type AckConnection = Pick<NatsConnection, 'subscribe' | 'publish'>;

/**
 * The requests of one connection that are sent once per message and answered by the server:
 * confirmed settles (`+ACK`, `-NAK`, `+TERM`, `+WPI`) and JetStream publishes (answered with a PubAck).
 */
export interface AckRequests {
  /**
   * Publishes with a reply subject and resolves with the server's answer; rejects with `timeout`
   * (no answer within the deadline), `closed`, or the client's publish error, classified. A 503
   * status (no responders) is resolved like any answer: the caller reads it.
   */
  request(subject: string, payload: Uint8Array, headers?: MsgHdrs): Promise<Msg>;
  /**
   * Publishes `payload` to a JetStream ack subject with a reply subject and resolves once the
   * server answered; rejects with `no_responders` (the consumer is gone), `timeout` (no answer
   * within the deadline) or the client's publish error, classified.
   */
  send(ackSubject: string, payload: Uint8Array): Promise<void>;
  /** Requests waiting for their answer. */
  readonly pending: number;
  /** Rejects what still waits with `closed` and ends the subscription. */
  close(): void;
}

interface Waiting {
  resolve(msg: Msg): void;
  reject(err: SwitchboardError): void;
  deadline: number;
}

/**
 * One wildcard subscription (`<inbox>.*`) per connection for every such request, the reply token
 * a counter, and one timer for all deadlines (they share one timeout, so the oldest request always
 * expires first). nats.js's `request()` builds a request object with a random token, a timer, a
 * `Promise.race` and an `Error` per call (`RequestOne.cancel` creates one even after a reply, with
 * or without `noAsyncTraces`); these are sent once per message, so here each costs a map entry.
 */
export function createAckRequests(nc: AckConnection, timeoutMs: number, now: () => number = Date.now): AckRequests {
  const waiting = new Map<number, Waiting>();
  let base: string | undefined;
  let sub: Subscription | undefined;
  let seq = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const onReply = (err: Error | null, msg: Msg) => {
    if (err) return;
    const id = Number(msg.subject.slice(base!.length + 1));
    const w = waiting.get(id);
    if (!w) return;
    waiting.delete(id);
    w.resolve(msg);
  };

  const expire = () => {
    timer = undefined;
    const t = now();
    for (const [id, w] of waiting) {
      if (w.deadline > t) {
        arm(w.deadline - t);
        return;
      }
      waiting.delete(id);
      w.reject(new SwitchboardError('timeout', `nats: the server did not answer within ${timeoutMs} ms`));
    }
  };
  const arm = (ms: number) => {
    timer = setTimeout(expire, Math.max(1, ms));
    timer.unref?.();
  };

  const request = (subject: string, payload: Uint8Array, headers?: MsgHdrs): Promise<Msg> => {
    if (closed) return Promise.reject(new SwitchboardError('closed', 'nats: the connection is closed'));
    if (!sub) {
      base = createInbox();
      sub = nc.subscribe(`${base}.*`, { callback: onReply });
    }
    const id = ++seq;
    return new Promise<Msg>((resolve, reject) => {
      waiting.set(id, { resolve, reject, deadline: now() + timeoutMs });
      if (!timer) arm(timeoutMs);
      try {
        nc.publish(subject, payload, headers ? { reply: `${base}.${id}`, headers } : { reply: `${base}.${id}` });
      } catch (err) {
        waiting.delete(id);
        reject(classifyError(err));
      }
    });
  };

  return {
    request,
    send: (ackSubject, payload) =>
      request(ackSubject, payload).then((msg) => {
        if (msg.headers?.code === 503 && msg.data.byteLength === 0) {
          throw new SwitchboardError('no_responders', 'nats: no responders: the JetStream consumer of this message is gone');
        }
      }),
    get pending() {
      return waiting.size;
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      const left = [...waiting.values()];
      waiting.clear();
      for (const w of left) w.reject(new SwitchboardError('closed', 'nats: the connection closed before the server answered'));
      try {
        sub?.unsubscribe();
      } catch {
        /* connection gone */
      }
      sub = undefined;
    },
  };
}
