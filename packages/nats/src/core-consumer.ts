import { nuid, type Subscription as NatsSubscription } from '@nats-io/transport-node';
import { requireCapability, type Destination } from '@switchboard/core';
import type { ConsumerDriver, InboundMessage, InboundSink, ResolvedConsumerOptions } from '@switchboard/core/driver';
import { natsCoreCapabilities } from './capabilities';
import { classifyError } from './errors';
import { matchesFilter, readHeaders } from './messages';
import { coreSubject } from './names';
import type { NatsContext } from './session';

/**
 * The id of a core NATS message that carries neither `sb-message-id` nor `Nats-Msg-Id`:
 * `<subject>#<nuid>`, unique (a NUID: 22 random base-62 characters) across messages, subscriptions,
 * sessions and processes. Core NATS stamps nothing on a message and never redelivers, so there is
 * nothing stable to build it from: each subscription (group) that gets the message gives it its own id.
 */
export function foreignCoreId(subject: string): string {
  return `${subject}#${nuid.next()}`;
}

/** Queue group of every consumer of a core-NATS queue: all of them compete. */
const QUEUE_GROUP = 'sb-queue';

/**
 * A core-NATS consumer: one subscription on the destination's subject ({@link coreSubject}: a
 * topic's name as is, `<subjectPrefix>.q.<name>` for a queue), in a queue group for competing members,
 * registered on the server (flushed) before this resolves. Core NATS has no acks: every delivery
 * is settled on receipt (at-most-once, whatever `ackMode` asked), nothing is given back, and
 * messages that arrive while nobody consumes wait in a client-side buffer.
 */
export async function openCoreConsumer(ctx: NatsContext, source: Destination, o: ResolvedConsumerOptions): Promise<ConsumerDriver<undefined>> {
  let seq = 0;
  const early: InboundMessage<undefined>[] = [];
  let sink: InboundSink<undefined> | undefined;

  let sub: NatsSubscription;
  try {
    sub = ctx.nc.subscribe(coreSubject(source, ctx.options.subjectPrefix), {
      queue: source.kind === 'queue' ? QUEUE_GROUP : o.group,
      callback: (err, msg) => {
        if (err) return;
        const r = readHeaders(msg.headers);
        if (!matchesFilter(r.user, o.filter)) return;
        seq += 1;
        const m: InboundMessage<undefined> = {
          handle: undefined,
          id: r.id ?? foreignCoreId(msg.subject),
          body: msg.data,
          key: r.key,
          headers: r.user,
          attempt: 1,
          receipt: String(seq),
          timestamp: new Date(),
          replyTo: msg.reply ?? r.replyTo,
          correlationId: r.correlationId,
        };
        if (sink) sink.deliver(m);
        else early.push(m);
      },
    });
    await ctx.nc.flush();
  } catch (err) {
    throw classifyError(err);
  }

  const settled = async () => undefined;
  return {
    settlesOnReceipt: true,
    start(s) {
      sink = s;
      for (const m of early.splice(0)) s.deliver(m);
    },
    async stop() {
      sink = undefined;
    },
    fetch: async () => {
      requireCapability(natsCoreCapabilities, 'polling');
      return [];
    },
    ack: settled,
    retry: settled,
    release: settled,
    deadLetter: async () => requireCapability(natsCoreCapabilities, 'deadLetter'),
    async close() {
      sink = undefined;
      early.length = 0;
      try {
        if (!ctx.nc.isClosed()) await sub.drain();
      } catch {
        sub.unsubscribe();
      }
    },
  };
}
