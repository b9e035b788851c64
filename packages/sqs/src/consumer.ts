import { ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import {
  createConsumer,
  createDelivery,
  formatDestination,
  HEADERS,
  SwitchboardError,
  type Capabilities,
  type Consumer,
  type Delivery,
  type DeliverySettler,
  type Destination,
  type NormalizedMessage,
  type PushHandle,
  type ResolvedConsumerOptions,
} from '@switchboard/core';
import { decodeMessage, type DecodedMessage } from './codec';
import { MAX_VISIBILITY_SECONDS, type SqsContext } from './context';
import { classifyError } from './errors';
import type { PhysicalName } from './names';

/** What a consumer needs from its connection. */
export interface ConsumerHost {
  readonly ctx: SqsContext;
  readonly capabilities: Capabilities;
  /** Sends a message to a destination (dead letters, replies); resolves with the MessageId. */
  sendTo(dest: Destination, message: NormalizedMessage, extras: { internalHeaders?: Record<string, string>; correlationId?: string }): Promise<string>;
  /** Sends a reply to a reply queue that must already exist. */
  reply(replyTo: string, correlationId: string | undefined, message: NormalizedMessage): Promise<void>;
  /** Called when the consumer closes. */
  forget(consumer: Consumer): void;
}

export interface SqsConsumerInit {
  source: Destination;
  /** The SQS queue this consumer receives from (the queue itself, or the group queue of a topic). */
  queue: PhysicalName;
  options: ResolvedConsumerOptions;
  /** (Re-)creates the queue, and for topics the subscription; resolves with the queue URL. */
  provision: () => Promise<string>;
}

const SYSTEM_ATTRIBUTES = ['ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp', 'SentTimestamp', 'MessageGroupId', 'SequenceNumber'] as const;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * Builds a Consumer over one SQS queue. Receives are never aborted mid-flight (an abandoned long
 * poll can still take a message on the server and hide it for the visibility timeout); instead
 * they are sliced to `receiveWaitSeconds`, so stopping waits at most one slice.
 */
export async function createSqsConsumer(host: ConsumerHost, init: SqsConsumerInit): Promise<Consumer> {
  const { ctx } = host;
  const o = init.options;
  let queueUrl = await init.provision();
  const visibility = Math.min(MAX_VISIBILITY_SECONDS, Math.max(1, Math.ceil(o.ackTimeoutMs / 1000)));
  const sourceName = formatDestination(init.source);
  /** Unacked deliveries held by this consumer: receipt handle -> visibility deadline (ms). */
  const held = new Map<string, number>();
  /** Every unsettled delivery handed out, to return them to the queue on close. */
  const outstanding = new Map<string, Delivery>();
  const capacityWaiters = new Set<() => void>();
  const heartbeats = new Map<string, NodeJS.Timeout>();
  let closed = false;

  const holding = () => {
    const now = Date.now();
    for (const [h, deadline] of held) if (deadline <= now) held.delete(h);
    return held.size;
  };
  const letGo = (handle: string) => {
    held.delete(handle);
    outstanding.delete(handle);
    const hb = heartbeats.get(handle);
    if (hb) {
      clearInterval(hb);
      heartbeats.delete(handle);
    }
    for (const w of capacityWaiters) w();
    capacityWaiters.clear();
  };

  let reprovisioning: Promise<void> | undefined;
  const reprovision = () => {
    reprovisioning ??= (async () => {
      ctx.forgetQueue(init.queue.name);
      queueUrl = await init.provision();
    })().finally(() => {
      reprovisioning = undefined;
    });
    return reprovisioning;
  };

  const receive = async (max: number, waitSeconds: number): Promise<Message[]> => {
    const call = () =>
      ctx.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, max),
          WaitTimeSeconds: waitSeconds,
          VisibilityTimeout: visibility,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: [...SYSTEM_ATTRIBUTES],
        }),
      );
    try {
      return (await call()).Messages ?? [];
    } catch (err) {
      const e = classifyError(err, `receiving from ${sourceName}`);
      if (e.code !== 'not_found' || closed) throw e;
      await reprovision();
      return (await call()).Messages ?? [];
    }
  };

  const deadLetter = async (m: Message, d: DecodedMessage, reason: string, attempts: number) => {
    const headers = {
      [HEADERS.deadLetterReason]: reason,
      [HEADERS.deadLetterAttempts]: String(attempts),
      [HEADERS.deadLetterSource]: sourceName,
      [HEADERS.deadLetterSourceRef]: m.MessageId ?? '',
    };
    const userHeaders = Object.fromEntries(Object.entries(d.headers).filter(([k]) => !k.startsWith('sb-dead-letter-')));
    await host.sendTo(o.deadLetter, { id: d.id, body: d.body, key: d.key, headers: userHeaders, delayMs: undefined }, { internalHeaders: headers });
    await ctx.deleteMessage(queueUrl, m.ReceiptHandle!);
  };

  /** Turns received messages into deliveries; dead-letters exhausted ones and hides early ones. */
  const toDeliveries = async (messages: Message[]): Promise<Delivery[]> => {
    const out: Delivery[] = [];
    const now = Date.now();
    const preAck: { m: Message; d: DecodedMessage; attempt: number }[] = [];
    for (const m of messages) {
      if (!m.ReceiptHandle) continue;
      const decoded = decodeMessage(m);
      const count = Number(m.Attributes?.ApproximateReceiveCount ?? '1') || 1;
      let attempt = count;
      if (decoded.notBefore !== undefined) {
        if (decoded.notBefore > now + 20) {
          // An emulated delay: hide it until its time (SNS has no delay, FIFO queues no per-message delay).
          const secs = Math.min(MAX_VISIBILITY_SECONDS, Math.ceil((decoded.notBefore - now) / 1000));
          await ctx.changeVisibility(queueUrl, m.ReceiptHandle, secs).catch(() => undefined);
          continue;
        }
        const first = Number(m.Attributes?.ApproximateFirstReceiveTimestamp ?? '0');
        if (first && first < decoded.notBefore && attempt > 1) attempt -= 1;
      }
      if (o.maxAttempts !== undefined && attempt > o.maxAttempts && o.ackMode === 'at-least-once') {
        await deadLetter(m, decoded, `not acknowledged after ${attempt - 1} deliveries (ack timeout)`, attempt - 1).catch(() => undefined);
        continue;
      }
      preAck.push({ m, d: decoded, attempt });
    }
    if (o.ackMode === 'at-most-once' && preAck.length) {
      // Acked on receipt: deleted before the application sees them; a failed delete is not delivered.
      const deleted = await Promise.allSettled(preAck.map((p) => ctx.deleteMessage(queueUrl, p.m.ReceiptHandle!)));
      for (let i = 0; i < preAck.length; i++) if (deleted[i]!.status === 'fulfilled') out.push(makeDelivery(preAck[i]!, true));
      return out;
    }
    for (const p of preAck) out.push(makeDelivery(p, false));
    return out;
  };

  const makeDelivery = (p: { m: Message; d: DecodedMessage; attempt: number }, preAcked: boolean): Delivery => {
    const handle = p.m.ReceiptHandle!;
    const url = queueUrl;
    if (!preAcked) {
      held.set(handle, Date.now() + visibility * 1000);
      if (ctx.options.heartbeat) {
        const every = Math.max(500, (visibility * 1000) / 2);
        heartbeats.set(
          handle,
          setInterval(() => {
            if (!held.has(handle)) return letGo(handle);
            held.set(handle, Date.now() + visibility * 1000);
            void ctx.changeVisibility(url, handle, visibility).catch(() => undefined);
          }, every).unref(),
        );
      }
    }
    const settled = <T>(p2: Promise<T>): Promise<T> => p2.finally(() => letGo(handle));
    const settler: DeliverySettler = {
      ack: () => settled(ctx.deleteMessage(url, handle)),
      nack: async (delayMs, reason) => {
        if (o.maxAttempts !== undefined && p.attempt >= o.maxAttempts) {
          return settled(deadLetter(p.m, p.d, reason ?? `failed ${p.attempt} of ${o.maxAttempts} attempts (nacked)`, p.attempt));
        }
        const secs = Math.max(ctx.options.minRedeliverySeconds, delayMs ? Math.ceil(delayMs / 1000) : 0);
        if (secs > MAX_VISIBILITY_SECONDS) {
          throw new SwitchboardError('invalid_argument', `nack delayMs ${delayMs} is over SQS's 12-hour visibility limit`);
        }
        return settled(ctx.changeVisibility(url, handle, secs));
      },
      extend: async (ms) => {
        const secs = Math.ceil(ms / 1000);
        if (secs > MAX_VISIBILITY_SECONDS) throw new SwitchboardError('invalid_argument', `extend(${ms}) is over SQS's 12-hour visibility limit`);
        await ctx.changeVisibility(url, handle, secs);
        if (held.has(handle)) held.set(handle, Date.now() + secs * 1000);
      },
      reject: (reason) => settled(deadLetter(p.m, p.d, reason, p.attempt)),
      respond: (replyTo, correlationId, message) => host.reply(replyTo, correlationId, message),
    };
    const sent = Number(p.m.Attributes?.SentTimestamp ?? '');
    const delivery = createDelivery(
      {
        id: p.d.id,
        body: p.d.body,
        key: p.d.key,
        headers: p.d.headers,
        attempt: Math.max(1, p.attempt),
        destination: init.source.name,
        receipt: handle,
        timestamp: Number.isFinite(sent) && sent > 0 ? new Date(sent) : new Date(),
        replyTo: p.d.replyTo,
        correlationId: p.d.correlationId,
        preAcked,
      },
      settler,
      host.capabilities,
    );
    if (!preAcked) {
      outstanding.set(handle, delivery);
      return delivery;
    }
    // At-most-once deliveries are settled already; they still count against prefetch until the
    // application first touches them, so a slow handler does not make the buffer grow without bound.
    held.set(handle, Date.now() + visibility * 1000);
    let taken = false;
    return new Proxy(delivery, {
      get(target, prop, receiver) {
        if (!taken) {
          taken = true;
          letGo(handle);
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
  };

  const release = async (d: Delivery): Promise<void> => {
    if (d.state !== 'pending') return;
    try {
      await ctx.changeVisibility(queueUrl, d.receipt, ctx.options.minRedeliverySeconds);
    } finally {
      letGo(d.receipt);
    }
  };

  let pushStop: (() => Promise<void>) | undefined;

  const startPush = (deliver: (d: Delivery) => void, fail: (err: unknown) => void): PushHandle => {
    let stopped = false;
    let failed = false;
    let reserved = 0;
    const stopSignal = new AbortController();
    const free = () => o.prefetch - holding() - reserved;
    // One receive returns at most 10: a large prefetch gets parallel receives (each reserves its share).
    const lanes = Math.min(8, Math.max(1, Math.ceil(o.prefetch / 10)));
    const lane = async (index: number) => {
      let backoff = 100;
      // The first lane receives once a quarter of the prefetch is free (at most 10); the others only
      // for a full batch of 10. A freed slot does not cost a receive call of its own.
      const room = index === 0 ? Math.max(1, Math.min(10, Math.floor(o.prefetch / 4))) : 10;
      while (!stopped) {
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
        let got: Delivery[];
        try {
          const messages = await receive(n, ctx.options.receiveWaitSeconds);
          got = await toDeliveries(messages);
          backoff = 100;
        } catch (err) {
          const e = classifyError(err, `receiving from ${sourceName}`);
          if (e.code === 'auth' || e.code === 'invalid_argument') {
            if (!failed) fail(e);
            failed = stopped = true;
            return;
          }
          await sleep(backoff, stopSignal.signal);
          backoff = Math.min(2000, backoff * 2);
          continue;
        } finally {
          reserved -= n;
        }
        for (const d of got) deliver(d);
      }
    };
    const loop = Promise.all(Array.from({ length: lanes }, (_, i) => sleep(i * 20, stopSignal.signal).then(() => lane(i))));
    const handle: PushHandle = {
      async stop() {
        stopped = true;
        stopSignal.abort();
        for (const w of capacityWaiters) w();
        capacityWaiters.clear();
        await loop;
      },
    };
    pushStop = () => handle.stop();
    return handle;
  };

  const poll = async (max: number, waitMs: number, signal: AbortSignal | undefined): Promise<Delivery[]> => {
    const deadline = Date.now() + waitMs;
    const out: Delivery[] = [];
    for (;;) {
      const remaining = deadline - Date.now();
      const wait = remaining >= 1000 ? Math.min(ctx.options.receiveWaitSeconds, Math.floor(remaining / 1000)) : 0;
      const got = await toDeliveries(await receive(Math.min(10, max - out.length), wait));
      out.push(...got);
      if (out.length >= max) break;
      if (out.length > 0) {
        // Top up without waiting when a full batch came back.
        if (got.length < 10) break;
        continue;
      }
      if (signal?.aborted || closed || Date.now() >= deadline) break;
      if (wait === 0) await sleep(Math.min(50, deadline - Date.now()), signal);
    }
    return out;
  };

  const consumer = createConsumer({
    source: init.source,
    group: o.group,
    startPush,
    poll,
    release,
    async close() {
      closed = true;
      if (pushStop) await pushStop();
      // Unacked deliveries go back to the queue now rather than after their visibility timeout.
      await Promise.allSettled([...outstanding.values()].filter((d) => d.state === 'pending').map((d) => release(d)));
      outstanding.clear();
      for (const t of heartbeats.values()) clearInterval(t);
      heartbeats.clear();
      host.forget(consumer);
    },
  });
  return consumer;
}
