// Test-only: deliberately broken variants of the memory backend, for proving that the conformance
// suite catches each defect. Imported as '@switchboard/memory/testing'; applications never need it,
// and nothing here is reachable from '@switchboard/memory'.
import { builtInBackend, defineDriver, type ConsumerDriver, type Driver, type DriverSession, type InboundMessage, type NormalizedMessage } from '@switchboard/core/driver';
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

function withFaults(session: DriverSession, faults: MemoryFaults): DriverSession {
  let sent = 0;
  const heldByKey = new Map<string, NormalizedMessage>();
  const seenKeys = new Set<string>();
  const dedupKey = (m: NormalizedMessage) => `${faults.dedupOn === 'id+body' ? `${m.id}|` : ''}${Buffer.from(m.body).toString('hex')}`;
  return {
    ...session,
    publish(dest, messages, options) {
      const store = (m: NormalizedMessage): Promise<string | undefined> => {
        if (faults.confirmBeforeStoreMs) {
          setTimeout(() => void Promise.all(session.publish(dest, [m], options)).catch(() => undefined), faults.confirmBeforeStoreMs);
          return Promise.resolve(options.confirm ? `offset:later-${sent}` : undefined);
        }
        if (faults.duplicateOneIn && sent % faults.duplicateOneIn === 0) void Promise.all(session.publish(dest, [m], options)).catch(() => undefined);
        return session.publish(dest, [m], options)[0]!;
      };
      return messages.map((original) => {
        let m = faults.deliverDelayedEarly ? { ...original, delayMs: undefined } : original;
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
    async consumer(source, options) {
      const inner = await session.consumer(source, faults.ignorePrefetch ? { ...options, prefetch: IGNORED_PREFETCH } : options);
      return withConsumerFaults(session, inner, faults);
    },
  };
}

function withConsumerFaults(session: DriverSession, inner: ConsumerDriver<unknown>, faults: MemoryFaults): ConsumerDriver<unknown> {
  const seen = new WeakMap<object, InboundMessage<unknown>>();
  return {
    ...inner,
    start: (sink) =>
      inner.start({
        deliver: (m) => {
          seen.set(m.handle as object, m);
          // The later ack from core finds nothing left to settle: the broker took it already.
          if (faults.keyFreedOnReceipt) void inner.ack(m.handle);
          sink.deliver(m);
        },
        fail: (err) => sink.fail(err),
      }),
    stop: () => inner.stop(),
    ack: (h) => inner.ack(h),
    release: (h, how) => inner.release(h, how),
    close: () => inner.close(),
    retry: (h, delayMs) => (faults.neverRedeliverNacked ? inner.ack(h) : inner.retry(h, faults.deliverDelayedEarly ? 0 : delayMs)),
    deadLetter: async (h, to, headers) => {
      const m = seen.get(h as object);
      if (!faults.redeliverDeadLettered || !m) return inner.deadLetter(h, to, headers);
      // Store the dead letter, then give the message back as if nothing happened: it comes again.
      await session.publish(to, [{ id: m.id, body: m.body, key: m.key, headers, delayMs: undefined }], { confirm: true, signal: undefined })[0];
      await inner.release(h, { seen: false });
    },
  };
}
