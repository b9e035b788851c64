// A driver session that talks to no broker, for unit tests of core's shared mechanics (pure logic).
import { CAPABILITIES, SwitchboardError } from '@switchboard/core';
import { assertDestinationName, defineCapabilities, native, type ConsumerDriver, type DriverHost, type DriverSession, type InboundSink, type NormalizedMessage } from '@switchboard/core/driver';

export const CAPABILITIES_ALL_NATIVE = defineCapabilities(Object.fromEntries(CAPABILITIES.map((c) => [c, native()])) as never);

export interface FakeConsumer {
  readonly calls: unknown[][];
  push(id: string, extra?: { attempt?: number; headers?: Record<string, string>; key?: string; handle?: string | undefined }): void;
  /** The driver's push stream fails (its source was deleted, say). */
  fail(err: unknown): void;
}

/**
 * `batchForm`: publish answers with one promise for the whole batch (core's batch form): `outcomes`
 * as the driver should, `short` with one outcome too few, `rejects` with the whole batch failed.
 */
export function fakeSession(o: {
  ackDelayMs?: number;
  batchForm?: 'outcomes' | 'short' | 'rejects';
  /**
   * The session declares `brokerNamesMessages`; refs are `ref-<index>`. `named`: the batch form
   * answers with `{ ref, id: name-<index> }` (a name that is not the reference).
   */
  brokerNamesMessages?: boolean | 'named';
  failAcks?: { once: string[]; sync?: boolean };
  failIndex?: number;
  maxMessageBytes?: number;
  nativeDeadline?: boolean;
  settlesOnReceipt?: boolean;
}) {
  const published: NormalizedMessage[] = [];
  const consumers: FakeConsumer[] = [];
  const bind = (_host: DriverHost): DriverSession => ({
    url: 'fake://x',
    capabilities: CAPABILITIES_ALL_NATIVE,
    maxMessageBytes: o.maxMessageBytes ?? 1024,
    limitName: 'fake',
    ...(o.brokerNamesMessages ? { brokerNamesMessages: true } : {}),
    checkDestination: (d) => assertDestinationName(d, /^[a-z-]+$/, 20, 'lower-case letters and -'),
    publish: (_dest, messages) => {
      published.push(...messages);
      const failed = (i: number) => new SwitchboardError('rejected', `nack for message ${i}`);
      if (o.batchForm === 'rejects') return Promise.reject(new SwitchboardError('connection', 'the whole batch failed'));
      if (o.batchForm) {
        const outcomes = messages.map((_m, i) => (i === o.failIndex ? failed(i) : o.brokerNamesMessages === 'named' ? { ref: `ref-${i}`, id: `name-${i}` } : `ref-${i}`));
        return Promise.resolve(o.batchForm === 'short' ? outcomes.slice(1) : outcomes);
      }
      return messages.map((_m, i) => (i === o.failIndex ? Promise.reject(failed(i)) : Promise.resolve(`ref-${i}`)));
    },
    reply: async () => undefined,
    consumer: async () => {
      const calls: unknown[][] = [];
      let sink: InboundSink<string> | undefined;
      const driver: ConsumerDriver<string> = {
        ...(o.nativeDeadline ? { native: { ackTimeout: true, extend: true } } : {}),
        ...(o.settlesOnReceipt ? { settlesOnReceipt: true } : {}),
        start: (s) => void (sink = s),
        stop: async () => void (sink = undefined),
        ack: (h) => {
          // The first ack of each handle in `failAcks.once` fails: thrown at once (a driver that is not async) or rejected.
          const i = o.failAcks?.once.indexOf(h) ?? -1;
          if (i >= 0) {
            o.failAcks!.once.splice(i, 1);
            calls.push(['ack failed', h]);
            const err = new SwitchboardError('connection', `ack of ${h} failed`);
            if (o.failAcks.sync) throw err;
            return Promise.reject(err);
          }
          return (async () => {
            if (o.ackDelayMs) await new Promise((r) => setTimeout(r, o.ackDelayMs));
            calls.push(['ack', h]);
          })();
        },
        retry: async (h, delayMs) => void calls.push(['retry', h, delayMs]),
        deadLetter: async (h, to, headers) => void calls.push(['deadLetter', h, to, headers]),
        extend: async (h, ms) => void calls.push(['extend', h, ms]),
        release: async (h, how) => void calls.push(['release', h, how.seen ? 'seen' : 'unseen']),
        close: async () => void calls.push(['close']),
        taken: (h) => void calls.push(['taken', h]),
      };
      consumers.push({
        calls,
        push: (id, extra) =>
          sink?.deliver({ handle: extra && 'handle' in extra ? (extra.handle as string) : id, id, body: new Uint8Array(), key: extra?.key, headers: extra?.headers ?? {}, attempt: extra?.attempt ?? 1, receipt: `receipt-${id}`, timestamp: new Date() }),
        fail: (err) => sink?.fail(err),
      });
      return driver as ConsumerDriver<unknown>;
    },
    ensureDestination: async () => undefined,
    deleteDestination: async () => undefined,
    classifyError: (err) => (err instanceof SwitchboardError ? err : new SwitchboardError('internal', String(err))),
    close: async () => undefined,
  });
  return { bind, published, consumers };
}
