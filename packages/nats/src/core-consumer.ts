import type { Msg, Subscription as NatsSubscription } from '@nats-io/transport-node';
import {
  createConsumer,
  createDelivery,
  requireCapability,
  SwitchboardError,
  type Consumer,
  type Delivery,
  type Destination,
  type DeliverySettler,
  type ResolvedConsumerOptions,
} from '@switchboard/core';
import { classifyError } from './errors';
import { matchesFilter, publishReply, readHeaders } from './messages';
import type { NatsContext } from './connection';

/** Queue group of every consumer of a core-NATS queue: all of them compete. */
const QUEUE_GROUP = 'sb-queue';

/**
 * A core-NATS consumer: one subscription on the subject (a queue group for competing members),
 * registered on the server (flushed) before this resolves. Deliveries arrive settled
 * (at-most-once); messages that arrive before `subscribe()` wait in a client-side buffer.
 */
export async function createCoreConsumer(ctx: NatsContext, source: Destination, o: ResolvedConsumerOptions): Promise<Consumer> {
  let seq = 0;
  const buffer: Delivery[] = [];
  let deliver: ((d: Delivery) => void) | undefined;

  const settler = (): DeliverySettler => ({
    ack: async () => undefined,
    nack: async () => undefined,
    extend: async () => {
      requireCapability(ctx.capabilities, 'extend');
    },
    reject: async () => {
      requireCapability(ctx.capabilities, 'reject');
    },
    respond: (replyTo, correlationId, m) => publishReply(ctx.nc, replyTo, correlationId, m),
  });

  const onMsg = (msg: Msg) => {
    const r = readHeaders(msg.headers);
    if (!matchesFilter(r.user, o.filter)) return;
    seq += 1;
    const d = createDelivery(
      {
        id: r.id ?? `${msg.subject}#${seq}`,
        body: msg.data,
        key: r.key,
        headers: r.user,
        attempt: 1,
        destination: source.name,
        receipt: String(seq),
        timestamp: new Date(),
        replyTo: msg.reply ?? r.replyTo,
        correlationId: r.correlationId,
        preAcked: true,
      },
      settler(),
      ctx.capabilities,
    );
    if (deliver) deliver(d);
    else buffer.push(d);
  };

  let sub: NatsSubscription;
  try {
    sub = ctx.nc.subscribe(source.name, {
      queue: source.kind === 'queue' ? QUEUE_GROUP : o.group,
      callback: (err, msg) => {
        if (!err) onMsg(msg);
      },
    });
    await ctx.nc.flush();
  } catch (err) {
    throw classifyError(err);
  }

  return createConsumer({
    source,
    group: o.group,
    startPush(push) {
      deliver = push;
      for (const d of buffer.splice(0)) push(d);
      return {
        stop: async () => {
          deliver = undefined;
        },
      };
    },
    poll: async () => {
      requireCapability(ctx.capabilities, 'polling');
      throw new SwitchboardError('unsupported', 'polling is not supported on core NATS');
    },
    release: async () => undefined,
    close: async () => {
      deliver = undefined;
      try {
        if (!ctx.nc.isClosed()) await sub.drain();
      } catch {
        sub.unsubscribe();
      }
    },
  });
}
