// Test-only: deliberately broken variants of the memory backend, for proving that the conformance
// suite catches each defect. Imported as '@switchboard/memory/testing'; applications never need it,
// and nothing here is reachable from '@switchboard/memory'.
import { HEADERS, type Destination } from '@switchboard/core';
import { builtInBackend, defineDriver, isPerMessage, type ConsumerDriver, type Driver, type DriverSession, type InboundMessage, type InboundSink, type NormalizedMessage, type PublishOptions } from '@switchboard/core/driver';
import { memoryOptionsFrom, openMemorySession } from './index';

/** Each fault breaks one promise the memory backend otherwise keeps. */
export interface MemoryFaults {
  /** Confirm every message but silently drop one in N. */
  dropOneIn?: number;
  /** Store every second message of a key before the one sent just ahead of it. */
  reorderKeys?: boolean;
  /** Treat a nack as an ack: the message is never delivered again. */
  neverRedeliverNacked?: boolean;
  /** Ignore prefetch: hand a consumer everything available. */
  ignorePrefetch?: boolean;
  /** Ignore `delayMs` on send and nack: deliver at once. */
  deliverDelayedEarly?: boolean;
  /** Dead-letter a message and deliver it again anyway. */
  redeliverDeadLettered?: boolean;
  /** Store duplicates that the dedup window should have dropped. */
  ignoreDedupWindow?: boolean;
  /** Keep only the first N headers of each message. */
  keepHeaders?: number;
  /** Resolve the confirm at once, store the message this many milliseconds later. */
  confirmBeforeStoreMs?: number;
  /** Deduplicate on the wrong key: the body alone, or id and body together. */
  dedupOn?: 'body' | 'id+body';
  /** Store one message in N twice. */
  duplicateOneIn?: number;
  /** Settle each message with the broker on receipt, so its key is free for the next message at once. */
  keyFreedOnReceipt?: boolean;
  /** Claim a native extend that does nothing: the ack deadline stays where it was. */
  extendIgnored?: boolean;
  /** Wait only half of a nack's `delayMs`. */
  nackDelayHalved?: boolean;
  /** Wait only half of a send's `delayMs`. */
  sendDelayHalved?: boolean;
  /** Report every delivery as attempt 1. */
  attemptStuckAtOne?: boolean;
  /** Report every delivery one attempt further than it is. */
  attemptPlusOne?: boolean;
  /** Treat `reject` as a nack: the message comes back instead of going to the dead letters. */
  rejectRetries?: boolean;
  /** Settle a message when it is given back (release), so what a closing consumer held is lost. */
  releaseSettles?: boolean;
  /** Ignore a consumer's header filter. */
  filterIgnored?: boolean;
  /** Put every group of a topic into one, so groups compete instead of each getting everything. */
  groupsMerged?: boolean;
  /** Start a new group from the earliest retained message when `latest` was asked for. */
  latestIsEarliest?: boolean;
  /** Replay from the earliest retained message when a timestamp was asked for. */
  timestampIgnored?: boolean;
  /** Let a consumer hold one more unsettled delivery than its prefetch. */
  prefetchPlusOne?: boolean;
  /** Answer each request with the correlation id of the request before it. */
  repliesCrossed?: boolean;
  /** Drop the headers of replies. */
  replyHeadersDropped?: boolean;
  /** Replay from the message after the one a position names (off by one). */
  positionOffByOne?: boolean;
  /** Redeliver a retried message to the member that had it, without giving it back to the group. */
  retryToSameMember?: boolean;
  /** Give a nacked message back as a new message at the end of the log, so its key moves on without it. */
  retryAtTheEnd?: boolean;
  /** Fold names as a careless mapping would: lower case, `.` and `-` as `_`, so distinct names share one log. */
  namesFolded?: boolean;
  /** One broker-side ack deadline per group, set by the member that joined last (as a shared server consumer would). */
  groupDeadlineShared?: boolean;
}

export const FAULT_NAMES = [
  'dropOneIn',
  'reorderKeys',
  'neverRedeliverNacked',
  'ignorePrefetch',
  'deliverDelayedEarly',
  'redeliverDeadLettered',
  'ignoreDedupWindow',
  'keepHeaders',
  'confirmBeforeStoreMs',
  'dedupOn',
  'duplicateOneIn',
  'keyFreedOnReceipt',
  'extendIgnored',
  'nackDelayHalved',
  'sendDelayHalved',
  'attemptStuckAtOne',
  'attemptPlusOne',
  'rejectRetries',
  'releaseSettles',
  'filterIgnored',
  'groupsMerged',
  'latestIsEarliest',
  'timestampIgnored',
  'prefetchPlusOne',
  'repliesCrossed',
  'replyHeadersDropped',
  'positionOffByOne',
  'retryToSameMember',
  'retryAtTheEnd',
  'namesFolded',
  'groupDeadlineShared',
] as const satisfies readonly (keyof MemoryFaults)[];

const IGNORED_PREFETCH = 10_000;

/**
 * A `memory://` driver whose sessions carry `faults`. Pass it to `connect(url, { drivers: [...] })`;
 * use a broker name of its own (`memory://broken-1`), since brokers are shared by name.
 */
export function faultyMemoryDriver(faults: MemoryFaults): Driver {
  return defineDriver({
    ...builtInBackend('memory'),
    displayName: 'in-process (with faults)',
    open: async (url, options, host) => {
      const opts = memoryOptionsFrom(url, options);
      // These faults do their own (wrong) dedup, or need duplicates stored: the broker's window is off.
      if (faults.ignoreDedupWindow || faults.dedupOn || faults.duplicateOneIn) opts.dedupWindowMs = 0;
      return withFaults(openMemorySession(opts, host), faults);
    },
  });
}

/** Publishes one message through `s` and gives its reference, whichever form the session answers in. */
function sendOne(s: DriverSession, dest: Destination, m: NormalizedMessage, options: PublishOptions): Promise<string | undefined> {
  const r = s.publish(dest, [m], options);
  if (isPerMessage(r)) return r[0]!;
  return r.then(([o]) => {
    if (o instanceof Error) throw o;
    return typeof o === 'object' ? o.ref : o;
  });
}

/** The ack deadline of each group under `groupDeadlineShared`: the last member to join sets it. */
const sharedDeadlines = new Map<string, number>();

function withFaults(inner: DriverSession, faults: MemoryFaults): DriverSession {
  const fold = (d: Destination): Destination => (faults.namesFolded ? { ...d, name: d.name.toLowerCase().replace(/[.-]/g, '_') } : d);
  const session: DriverSession = faults.namesFolded
    ? {
        ...inner,
        publish: (dest, messages, options) => inner.publish(fold(dest), messages, options),
        consumer: (source, o) => inner.consumer(fold(source), { ...o, group: o.group.toLowerCase().replace(/[.-]/g, '_') }),
        ensureDestination: (d, o) => inner.ensureDestination(fold(d), o),
        deleteDestination: (d) => inner.deleteDestination(fold(d)),
      }
    : inner;
  let sent = 0;
  const heldByKey = new Map<string, NormalizedMessage>();
  const seenKeys = new Set<string>();
  let lastCorrelation: string | undefined;
  const dedupKey = (m: NormalizedMessage) => `${faults.dedupOn === 'id+body' ? `${m.id}|` : ''}${Buffer.from(m.body).toString('hex')}`;
  return {
    ...session,
    publish(dest, messages, options) {
      const store = (m: NormalizedMessage): Promise<string | undefined> => {
        if (faults.confirmBeforeStoreMs) {
          setTimeout(() => void sendOne(session, dest, m, options).catch(() => undefined), faults.confirmBeforeStoreMs);
          return Promise.resolve(options.confirm ? `offset:later-${sent}` : undefined);
        }
        if (faults.duplicateOneIn && sent % faults.duplicateOneIn === 0) void sendOne(session, dest, m, options).catch(() => undefined);
        return sendOne(session, dest, m, options);
      };
      return messages.map((original) => {
        let m = faults.deliverDelayedEarly ? { ...original, delayMs: undefined } : original;
        if (faults.sendDelayHalved && m.delayMs) m = { ...m, delayMs: m.delayMs / 2 };
        if (faults.keepHeaders !== undefined) m = { ...m, headers: Object.fromEntries(Object.entries(m.headers).slice(0, faults.keepHeaders)) };
        sent++;
        const fake = Promise.resolve(options.confirm ? `offset:fake-${sent}` : undefined);
        if (faults.dropOneIn && sent % faults.dropOneIn === 0) return fake;
        if (faults.dedupOn) {
          const k = dedupKey(m);
          if (seenKeys.has(k)) return fake;
          seenKeys.add(k);
        }
        if (!faults.reorderKeys || m.key === undefined) return store(m);
        const held = heldByKey.get(m.key);
        if (!held) {
          // Hold every second message of a key back until the next one, then store both swapped.
          heldByKey.set(m.key, m);
          return fake;
        }
        heldByKey.delete(m.key);
        const ref = store(m);
        void store(held).catch(() => undefined);
        return ref;
      });
    },
    async reply(replyTo, correlationId, message) {
      let corr = correlationId;
      if (faults.repliesCrossed) {
        corr = lastCorrelation ?? correlationId;
        lastCorrelation = correlationId;
      }
      return session.reply(replyTo, corr, faults.replyHeadersDropped ? { ...message, headers: {} } : message);
    },
    async consumer(source, options) {
      const o = { ...options };
      if (faults.ignorePrefetch) o.prefetch = IGNORED_PREFETCH;
      if (faults.prefetchPlusOne) o.prefetch += 1;
      if (faults.filterIgnored) o.filter = undefined;
      if (faults.groupsMerged && source.kind === 'topic') o.group = 'merged';
      if (faults.latestIsEarliest && o.from === 'latest') o.from = 'earliest';
      if (faults.timestampIgnored && typeof o.from === 'object' && 'timestamp' in o.from) o.from = 'earliest';
      if (faults.positionOffByOne && typeof o.from === 'object' && 'position' in o.from) o.from = { position: String(Number(o.from.position) + 1) };
      const deadlineKey = `${source.kind}:${source.name}|${o.group}`;
      sharedDeadlines.set(deadlineKey, o.ackTimeoutMs);
      const deadline = () => (faults.groupDeadlineShared ? (sharedDeadlines.get(deadlineKey) ?? o.ackTimeoutMs) : o.ackTimeoutMs);
      return withConsumerFaults(session, await session.consumer(source, o), faults, source, deadline);
    },
  };
}

function withConsumerFaults(session: DriverSession, inner: ConsumerDriver<unknown>, faults: MemoryFaults, sourceOf: Destination, ackTimeoutMs: () => number): ConsumerDriver<unknown> {
  const seen = new WeakMap<object, InboundMessage<unknown>>();
  let sinkOf: InboundSink<unknown> | undefined;
  const attemptOf = (m: InboundMessage<unknown>) => (faults.attemptStuckAtOne ? 1 : faults.attemptPlusOne ? m.attempt + 1 : m.attempt);
  // extendIgnored, groupDeadlineShared: a broker-side ack deadline (declared native, so core keeps no
  // timer) that ignores extend, or that one member's value sets for the whole group.
  const brokerDeadline = faults.extendIgnored || faults.groupDeadlineShared;
  const deadlines = new Map<unknown, NodeJS.Timeout>();
  const settled = <A extends unknown[]>(run: (h: unknown, ...rest: A) => Promise<void>) => (h: unknown, ...rest: A) => {
    clearTimeout(deadlines.get(h));
    deadlines.delete(h);
    return run(h, ...rest);
  };
  const faulty: ConsumerDriver<unknown> = {
    ...inner,
    ...(brokerDeadline ? { native: { ackTimeout: true, extend: true }, extend: async () => undefined } : {}),
    start: (sink) =>
      inner.start((sinkOf = {
        deliver: (m) => {
          seen.set(m.handle as object, m);
          if (brokerDeadline) deadlines.set(m.handle, setTimeout(() => void faulty.retry(m.handle, 0).catch(() => undefined), ackTimeoutMs()));
          // The later ack from core finds nothing left to settle: the broker took it already.
          if (faults.keyFreedOnReceipt) void inner.ack(m.handle);
          sink.deliver({ ...m, attempt: attemptOf(m) });
        },
        fail: (err) => sink.fail(err),
      })),
    release: (h, how) => (faults.releaseSettles ? inner.ack(h) : inner.release(h, how)),
    retry: async (h, delayMs) => {
      if (faults.neverRedeliverNacked) return inner.ack(h);
      const m = seen.get(h as object);
      if (faults.retryAtTheEnd && m) {
        // Settle it, and send a copy after everything else (a retry topic without blocking the key).
        await inner.ack(h);
        await sendOne(session, sourceOf, { id: `${m.id}~retry`, body: m.body, key: m.key, headers: m.headers, delayMs: delayMs || undefined }, { confirm: true, signal: undefined });
        return;
      }
      if (faults.retryToSameMember && m && sinkOf) {
        const again = { ...m, attempt: m.attempt + 1 };
        const sink = sinkOf;
        setTimeout(() => sink.deliver(again), delayMs);
        return;
      }
      return inner.retry(h, faults.deliverDelayedEarly ? 0 : faults.nackDelayHalved ? delayMs / 2 : delayMs);
    },
    deadLetter: async (h, to, headers) => {
      if (faults.rejectRetries && (headers[HEADERS.deadLetterReason] ?? '').startsWith('rejected:')) return inner.retry(h, 0);
      const m = seen.get(h as object);
      if (!faults.redeliverDeadLettered || !m) return inner.deadLetter(h, to, headers);
      // Store the dead letter, then give the message back as if nothing happened: it comes again.
      await sendOne(session, to, { id: m.id, body: m.body, key: m.key, headers, delayMs: undefined }, { confirm: true, signal: undefined });
      await inner.release(h, { seen: false });
    },
  };
  if (!brokerDeadline) return faulty;
  return { ...faulty, ack: settled(faulty.ack), retry: settled(faulty.retry), deadLetter: settled(faulty.deadLetter), release: settled(faulty.release) };
}
