import { SwitchboardError, type Destination } from '@switchboard/core';
import { assertDestinationName, type ConsumerDriver, type DriverHost, type DriverSession, type InboundMessage } from '@switchboard/core/driver';
import type { MemoryBroker, MemoryRecord, Member } from './broker';
import { memoryCapabilities } from './capabilities';

const NAME = /^[A-Za-z0-9._:-]+$/;
const NAME_RULE = 'use 1-249 characters from A-Z a-z 0-9 . _ : -';

/** A delivery's place in the broker: which record, and the token of this hand-out. */
export interface MemoryHandle {
  readonly member: Member;
  readonly offset: number;
  readonly token: number;
}

/** Resolves after a turn of the event loop (timers and I/O get to run). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The memory backend's driver session: a publish that appends to the in-process log, reply inboxes
 * keyed by correlation id, and a consumer driver over a group member. Everything else (producers,
 * deliveries, ack deadlines, polling, close) is core's.
 */
export function memorySession(broker: MemoryBroker, url: string, host: DriverHost): DriverSession {
  let inbox: string | undefined;
  const replyAddress = () => (inbox ??= broker.openInbox((correlationId, reply) => void host.replies.resolve(correlationId, reply)));
  return {
    url,
    capabilities: memoryCapabilities,
    maxMessageBytes: broker.options.maxMessageBytes,
    limitName: 'memory://',
    checkDestination: (d) => assertDestinationName(d, NAME, 249, NAME_RULE),
    // Flow control: while a consumer with room is far behind, confirms wait a turn of the event loop so it gets to run.
    publish: (dest, messages, { confirm }) => {
      const log = broker.log(dest);
      const offsets = log.append(messages, { dedup: true, refuseWhenFull: true });
      const turn = log.consumersWaiting() ? nextTurn() : undefined;
      return offsets.map((o) => {
        const receipt = confirm ? `offset:${o}` : undefined;
        return turn ? turn.then(() => receipt) : Promise.resolve(receipt);
      });
    },
    request: async (dest, message, meta) => {
      broker.append(dest, [message], { dedup: true, refuseWhenFull: true, replyTo: replyAddress(), correlationId: meta.correlationId });
    },
    reply: async (replyTo, correlationId, m) => broker.reply(replyTo, correlationId, m),
    consumer: async (source, options) => memoryConsumer(broker, source, options),
    ensureDestination: async (d) => void broker.log(d),
    deleteDestination: async (d) => broker.delete(d),
    deleteGroup: async (d, group) => broker.deleteGroup(d, group),
    listObjects: async (d) => broker.describe(d),
    classifyError: (err) => (err instanceof SwitchboardError ? err : new SwitchboardError('internal', String(err), { cause: err })),
    close: async () => {
      if (inbox) broker.closeInbox(inbox);
    },
  };
}

function memoryConsumer(broker: MemoryBroker, source: Destination, options: Parameters<MemoryBroker['join']>[1]): ConsumerDriver<MemoryHandle> {
  let sink: ((m: InboundMessage<MemoryHandle>) => void) | undefined;
  const toInbound = (member: Member, rec: MemoryRecord, attempt: number, token: number): InboundMessage<MemoryHandle> => ({
    handle: { member, offset: rec.offset, token },
    id: rec.id,
    body: rec.body,
    key: rec.key,
    headers: rec.headers,
    attempt,
    receipt: `offset:${rec.offset}`,
    // Topics keep their log for replay; a queue's records go once every delivery is done.
    position: source.kind === 'topic' ? String(rec.offset) : undefined,
    timestamp: new Date(rec.timestamp),
    replyTo: rec.replyTo,
    correlationId: rec.correlationId,
  });
  const member: Member = broker.join(source, options, {
    deliver: (rec, attempt, token) => {
      if (sink) sink(toInbound(member, rec, attempt, token));
      else member.group.release(rec.offset, token);
    },
  });
  return {
    start(s) {
      sink = (m) => s.deliver(m);
      member.pushing = true;
      member.group.schedule();
    },
    async stop() {
      member.pushing = false;
      sink = undefined;
    },
    ack: async (h) => h.member.group.ack(h.offset, h.token),
    retry: async (h, delayMs) => h.member.group.retry(h.offset, h.token, delayMs),
    deadLetter: async (h, to, headers) => h.member.group.deadLetter(h.offset, h.token, to, headers),
    // A message a handler held past the close grace was seen: its attempt stands.
    release: async (h, how) => (how.seen ? h.member.group.retry(h.offset, h.token, 0) : h.member.group.release(h.offset, h.token)),
    close: async () => member.group.leave(member),
  };
}
