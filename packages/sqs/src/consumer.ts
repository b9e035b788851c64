import { ReceiveMessageCommand, type Message, type MessageSystemAttributeName } from '@aws-sdk/client-sqs';
import { formatDestination, SwitchboardError, type Destination, type Headers } from '@switchboard/core';
import { type ConsumerDriver, type InboundMessage, type InboundSink, type NormalizedMessage, type ResolvedConsumerOptions } from '@switchboard/core/driver';
import { decodeMessage, type DecodedMessage } from './codec';
import { MAX_VISIBILITY_SECONDS, type SqsContext } from './context';
import { classifyError } from './errors';
import type { PhysicalName } from './names';

/** What core hands back on every settle: the receipt handle, the queue it came from, the message. */
export interface SqsHandle {
  readonly receiptHandle: string;
  readonly queueUrl: string;
  readonly message: DecodedMessage;
}

export interface SqsConsumerInit {
  readonly ctx: SqsContext;
  readonly source: Destination;
  /** The SQS queue this consumer receives from (the queue itself, or the group queue of a topic). */
  readonly queue: PhysicalName;
  readonly options: ResolvedConsumerOptions;
  /** (Re-)creates the queue, and for topics the subscription; resolves with the queue URL. */
  provision(): Promise<string>;
  /** Sends a message to a destination (dead letters). */
  sendTo(to: Destination, message: NormalizedMessage): Promise<void>;
}

const ALL_ATTRIBUTES = ['All'];
const SYSTEM_ATTRIBUTES: MessageSystemAttributeName[] = ['ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp', 'SentTimestamp', 'MessageGroupId', 'SequenceNumber'];

/**
 * Where a wait registers to be cut short: it gets back a function that unregisters it. Built from an
 * AbortSignal ({@link onAbort}) or, in the receive lanes, from a plain set of callbacks (an idle
 * consumer then keeps no AbortController and no event listener per receive).
 */
type CutShort = (cut: () => void) => () => void;

const onAbort =
  (signal: AbortSignal): CutShort =>
  (cut) => {
    if (signal.aborted) {
      cut();
      return () => undefined;
    }
    signal.addEventListener('abort', cut, { once: true });
    return () => signal.removeEventListener('abort', cut);
  };

const sleep = (ms: number, cutShort?: CutShort) =>
  new Promise<void>((resolve) => {
    let over = false;
    let unregister: (() => void) | undefined;
    const t = setTimeout(done, ms);
    unregister = cutShort?.(done);
    if (over) unregister?.();
    function done() {
      over = true;
      clearTimeout(t);
      unregister?.();
      resolve();
    }
  });

/** SQS's longest long poll; an idle consumer's receives wait this long (see `startLanes`). */
export const MAX_WAIT_SECONDS = 20;

/** How long after its visibility ran out a delivery still held by a handler keeps its prefetch slot (see `holding`). */
export const HAND_BACK_MS = 1000;

/**
 * The wait of an idle consumer's receives: SQS's 20 s, and always a second and more
 * inside `requestTimeoutMs` (a long poll cut off by the request timeout is abandoned while the
 * server may still hand it a message), and never below `receiveWaitSeconds`.
 */
export const idleWaitLimit = (o: { receiveWaitSeconds: number; requestTimeoutMs: number }): number =>
  Math.max(o.receiveWaitSeconds, Math.min(MAX_WAIT_SECONDS, Math.floor((o.requestTimeoutMs - 1001) / 1000)));

const visibilityLimit = (what: string) => new SwitchboardError('invalid_argument', `${what} is over SQS's 12-hour visibility limit`);

/**
 * The SQS half of a consumer. The visibility timeout is the ack deadline and ChangeMessageVisibility
 * the extend (both native); ReceiveMessage long polling is the native `fetch`. Receives are never
 * aborted mid-flight (an abandoned long poll can still take a message on the server and hide it for
 * the visibility timeout), so stopping does not wait for it either: the receive in flight is left to
 * finish on its own, and whatever it still brings is made visible again at once (after
 * `minRedeliverySeconds`). Receives go through the context's receive client, on sockets of their
 * own. An idle consumer has one receive in flight; the other lanes join while receives come back full.
 */
export async function createSqsConsumer(init: SqsConsumerInit): Promise<ConsumerDriver<SqsHandle>> {
  const { ctx, options: o } = init;
  let queueUrl = await init.provision();
  const visibility = Math.min(MAX_VISIBILITY_SECONDS, Math.max(1, Math.ceil(o.ackTimeoutMs / 1000)));
  const atMostOnce = o.ackMode === 'at-most-once';
  /**
   * Deliveries counted against prefetch: unsettled ones (receipt handle -> visibility deadline and
   * heartbeat), and at-most-once ones the application has not taken yet (deadline Infinity).
   */
  const held = new Map<string, { deadline: number; heartbeat?: NodeJS.Timeout }>();
  const capacityWaiters = new Set<() => void>();
  let closed = false;
  /** Ends the receives of `fetch` on close; made by the first fetch (most consumers only push). */
  let closing: AbortController | undefined;

  /**
   * A delivery whose visibility ran out while its handler still has it stops counting against
   * prefetch only HAND_BACK_MS later: the message is visible again on the queue by then, and a
   * receive that another member of the group has waiting takes it first. Without the pause this
   * member, whose handler is stuck, asks again the moment its own deadline passes and often wins
   * the message back (conformance RD6 on FIFO: attempts 2 to 7 all went to the stuck member).
   */
  const holding = () => {
    const now = Date.now();
    for (const [h, e] of held) if (e.deadline + HAND_BACK_MS <= now && !e.heartbeat) held.delete(h);
    return held.size;
  };
  const letGo = (h: SqsHandle) => {
    const e = held.get(h.receiptHandle);
    if (e?.heartbeat) clearInterval(e.heartbeat);
    held.delete(h.receiptHandle);
    for (const w of capacityWaiters) w();
    capacityWaiters.clear();
  };
  const settled = <T>(h: SqsHandle, p: Promise<T>): Promise<T> => p.finally(() => letGo(h));
  const hold = (handle: string, url: string) => {
    const e: { deadline: number; heartbeat?: NodeJS.Timeout } = { deadline: Date.now() + visibility * 1000 };
    if (ctx.options.heartbeat) {
      e.heartbeat = setInterval(() => {
        e.deadline = Date.now() + visibility * 1000;
        void ctx.changeVisibility(url, handle, visibility).catch(() => undefined);
      }, Math.max(500, (visibility * 1000) / 2)).unref();
    }
    held.set(handle, e);
  };

  let reprovisioning: Promise<void> | undefined;
  const reprovision = () =>
    (reprovisioning ??= (async () => {
      ctx.forgetQueue(init.queue.name);
      queueUrl = await init.provision();
    })().finally(() => {
      reprovisioning = undefined;
    }));

  /** Gives back what a receive nobody waits for any more brings: visible again after minRedeliverySeconds. */
  const giveBack = (p: Promise<Message[]>, url: string) =>
    void p.then(
      (messages) => {
        for (const m of messages) if (m.ReceiptHandle) void ctx.changeVisibility(url, m.ReceiptHandle, ctx.options.minRedeliverySeconds).catch(() => undefined);
      },
      () => undefined,
    );

  /**
   * The receive's messages, or none as soon as it is cut short (stop, close, an aborted poll): the
   * call itself goes on, and what it brings is given back ({@link giveBack}).
   */
  const receive = (max: number, waitSeconds: number, cutShort?: CutShort): Promise<Message[]> => {
    const url = queueUrl;
    const p = receiveNow(max, waitSeconds);
    if (!cutShort) return p;
    return new Promise<Message[]>((resolve, reject) => {
      let cut = false;
      const unregister = cutShort(() => {
        if (cut) return;
        cut = true;
        giveBack(p, url);
        resolve([]);
      });
      p.then(
        (m) => {
          unregister();
          resolve(m);
        },
        (err: unknown) => {
          unregister();
          reject(err);
        },
      );
    });
  };

  const receiveNow = async (max: number, waitSeconds: number): Promise<Message[]> => {
    const call = () =>
      ctx.receiver.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, max),
          WaitTimeSeconds: waitSeconds,
          VisibilityTimeout: visibility,
          MessageAttributeNames: ALL_ATTRIBUTES,
          MessageSystemAttributeNames: SYSTEM_ATTRIBUTES,
        }),
      );
    try {
      return (await call()).Messages ?? [];
    } catch (err) {
      const e = classifyError(err, `receiving from ${formatDestination(init.source)}`);
      if (e.code !== 'not_found' || closed) throw e;
      // The queue vanished (deleted, emulator restarted): provision it again and go on.
      await reprovision();
      return (await call()).Messages ?? [];
    }
  };

  const deadLetter = async (h: SqsHandle, to: Destination, headers: Headers) => {
    await init.sendTo(to, { id: h.message.id, body: h.message.body, key: h.message.key, headers, delayMs: undefined });
    await ctx.deleteMessage(h.queueUrl, h.receiptHandle);
  };

  /**
   * Turns received messages into inbound ones. Messages with an emulated delay still ahead are
   * hidden until then; at-most-once messages are deleted first. (A message whose visibility ran out
   * on its last attempt comes back past maxAttempts, and core dead-letters it.)
   */
  const inbound = async (messages: Message[]): Promise<InboundMessage<SqsHandle>[]> => {
    const now = Date.now();
    const out: InboundMessage<SqsHandle>[] = [];
    const url = queueUrl;
    for (const m of messages) {
      if (!m.ReceiptHandle) continue;
      const decoded = decodeMessage(m, { envelope: init.source.kind === 'topic' });
      let attempt = Number(m.Attributes?.ApproximateReceiveCount ?? '1') || 1;
      if (decoded.notBefore !== undefined) {
        if (decoded.notBefore > now + 20) {
          const secs = Math.min(MAX_VISIBILITY_SECONDS, Math.ceil((decoded.notBefore - now) / 1000));
          await ctx.changeVisibility(url, m.ReceiptHandle, secs).catch(() => undefined);
          continue;
        }
        // The receive that hid it early was no attempt.
        const first = Number(m.Attributes?.ApproximateFirstReceiveTimestamp ?? '0');
        if (first && first < decoded.notBefore && attempt > 1) attempt -= 1;
      }
      const handle: SqsHandle = { receiptHandle: m.ReceiptHandle, queueUrl: url, message: decoded };
      const messageId = m.MessageId ?? '';
      const sent = Number(m.Attributes?.SentTimestamp ?? '');
      out.push({
        handle,
        id: decoded.id,
        body: decoded.body,
        key: decoded.key,
        headers: decoded.headers,
        attempt: Math.max(1, attempt),
        receipt: messageId,
        timestamp: Number.isFinite(sent) && sent > 0 ? new Date(sent) : new Date(),
        replyTo: decoded.replyTo,
        correlationId: decoded.correlationId,
      });
    }
    if (atMostOnce) {
      // Settled before the application sees them; a failed delete is not delivered (it comes back).
      // They count against prefetch until the application takes them (core calls `taken`).
      const deleted = await Promise.allSettled(out.map((m) => ctx.deleteMessage(url, m.handle.receiptHandle)));
      const kept = out.filter((_, i) => deleted[i]!.status === 'fulfilled');
      for (const m of kept) held.set(m.handle.receiptHandle, { deadline: Infinity });
      return kept;
    }
    for (const m of out) hold(m.handle.receiptHandle, url);
    return out;
  };

  /**
   * Push: receive lanes that never hold more than prefetch unsettled deliveries. Lane 0 always
   * receives; the others start when a receive brings messages and end once one comes back empty,
   * so an idle consumer holds one long poll (one socket) and one lane, not eight.
   * The first receive waits `receiveWaitSeconds`; after an empty one the next waits 20 s (see
   * `idleWaitLimit`), so an idle consumer costs one call per 20 s, as a plain long-poll loop; a
   * message brings the wait back to `receiveWaitSeconds`.
   */
  const startLanes = (sink: InboundSink<SqsHandle>) => {
    let stopped = false;
    let reserved = 0;
    let backlog = false;
    /** The lanes running now (lane 0 always; the others only during a backlog). */
    const running = new Map<number, Promise<void>>();
    const spawn = (index: number) => {
      if (running.has(index)) return;
      const p = (index > 0 ? sleep(index * 20, cutShort).then(() => lane(index)) : lane(index)).finally(() => running.delete(index));
      running.set(index, p);
    };
    /** What stop cuts short: the receives in flight and the sleeps of the lanes. */
    const onStop = new Set<() => void>();
    const cutShort: CutShort = (cut) => {
      if (stopped) {
        cut();
        return () => undefined;
      }
      onStop.add(cut);
      return () => onStop.delete(cut);
    };
    const free = () => o.prefetch - holding() - reserved;
    // One receive returns at most 10: a large prefetch gets parallel receives (each reserves its share).
    const lanes = Math.min(8, Math.max(1, Math.ceil(o.prefetch / 10)));
    const maxWait = idleWaitLimit(ctx.options);
    const lane = async (index: number) => {
      let backoff = 100;
      let wait = ctx.options.receiveWaitSeconds;
      // The first lane receives once a quarter of the prefetch is free (at most 10); the others only
      // for a full batch of 10. A freed slot does not cost a receive call of its own.
      const room = index === 0 ? Math.max(1, Math.min(10, Math.floor(o.prefetch / 4))) : 10;
      // Lanes other than 0 end when a receive comes back empty; the next backlog starts them again.
      while (!stopped && (index === 0 || backlog)) {
        while (!stopped && free() < room) {
          await new Promise<void>((resolve) => {
            capacityWaiters.add(resolve);
            // Visibility deadlines pass without an event: look again now and then.
            setTimeout(resolve, 250).unref();
          });
        }
        if (stopped) break;
        const n = Math.min(10, free());
        reserved += n;
        let got: InboundMessage<SqsHandle>[];
        try {
          const messages = await receive(n, wait, cutShort);
          // After an empty receive the next one waits SQS's 20 s; a message brings it back to the slice.
          wait = messages.length === 0 ? maxWait : ctx.options.receiveWaitSeconds;
          if (messages.length === 0) backlog = false;
          else if (!backlog) {
            // Messages are coming: the other lanes help (a FIFO receive may bring one message group
            // at a time, so a partial batch is no sign of an empty queue).
            backlog = true;
            for (let i = 1; i < lanes; i++) spawn(i);
          }
          got = await inbound(messages);
          backoff = 100;
        } catch (err) {
          const e = classifyError(err, `receiving from ${formatDestination(init.source)}`);
          if (e.code === 'auth' || e.code === 'invalid_argument') {
            if (!stopped) sink.fail(e);
            stopped = true;
            return;
          }
          await sleep(backoff, cutShort);
          backoff = Math.min(2000, backoff * 2);
          continue;
        } finally {
          reserved -= n;
        }
        for (const m of got) sink.deliver(m);
      }
    };
    spawn(0);
    return async () => {
      stopped = true;
      for (const cut of [...onStop]) cut();
      onStop.clear();
      for (const w of capacityWaiters) w();
      capacityWaiters.clear();
      while (running.size) await Promise.all(running.values());
    };
  };
  let stopPush: (() => Promise<void>) | undefined;
  const stop = async () => {
    const running = stopPush;
    stopPush = undefined;
    await running?.();
  };

  return {
    native: { ackTimeout: true, extend: true },

    start(sink) {
      stopPush ??= startLanes(sink);
    },

    stop,

    /** Long polls in whole-second slices while a second is left, then 50 ms short polls, so the wait is about waitMs. */
    async fetch(max, waitMs, pollSignal) {
      // Close (or the poll's own signal) ends the wait at once; see `receive`.
      closing ??= new AbortController();
      if (closed) closing.abort();
      const signal = pollSignal ? AbortSignal.any([pollSignal, closing.signal]) : closing.signal;
      const cutShort = onAbort(signal);
      const deadline = Date.now() + waitMs;
      const out: InboundMessage<SqsHandle>[] = [];
      for (;;) {
        const remaining = deadline - Date.now();
        const wait = remaining >= 1000 ? Math.min(ctx.options.receiveWaitSeconds, Math.floor(remaining / 1000)) : 0;
        const got = await inbound(await receive(Math.min(10, max - out.length), wait, cutShort));
        out.push(...got);
        if (out.length >= max) break;
        if (out.length > 0) {
          // Top up without waiting when a full batch came back.
          if (got.length < 10) break;
          continue;
        }
        if (signal?.aborted || closed || Date.now() >= deadline) break;
        if (wait === 0) await sleep(Math.min(50, deadline - Date.now()), cutShort);
      }
      return out;
    },

    ack: (h) => settled(h, ctx.deleteMessage(h.queueUrl, h.receiptHandle)),

    async retry(h, delayMs) {
      const secs = Math.max(ctx.options.minRedeliverySeconds, Math.ceil(delayMs / 1000));
      if (secs > MAX_VISIBILITY_SECONDS) throw visibilityLimit(`nack delayMs ${delayMs}`);
      return settled(h, ctx.changeVisibility(h.queueUrl, h.receiptHandle, secs));
    },

    deadLetter: (h, to, headers) => settled(h, deadLetter(h, to, headers)),

    async extend(h, ms) {
      const secs = Math.ceil(ms / 1000);
      if (secs > MAX_VISIBILITY_SECONDS) throw visibilityLimit(`extend(${ms})`);
      await ctx.changeVisibility(h.queueUrl, h.receiptHandle, secs);
      const e = held.get(h.receiptHandle);
      if (e) e.deadline = Date.now() + secs * 1000;
    },

    release: (h) => settled(h, ctx.changeVisibility(h.queueUrl, h.receiptHandle, ctx.options.minRedeliverySeconds)),

    taken: (h) => letGo(h),

    async close() {
      closed = true;
      closing?.abort();
      await stop();
      for (const e of held.values()) if (e.heartbeat) clearInterval(e.heartbeat);
      held.clear();
    },
  };
}
