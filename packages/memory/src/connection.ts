import { randomUUID } from 'node:crypto';
import {
  assertDestinationName,
  assertMessageSizes,
  closedError,
  createConsumer,
  createDelivery,
  DEFAULT_REQUEST_TIMEOUT_MS,
  normalizeMessages,
  PendingReplies,
  resolveConsumerOptions,
  throwIfAborted,
  toDestination,
  validateSendOptions,
  type Admin,
  type Body,
  type Connection,
  type Consumer,
  type ConsumerOptions,
  type Delivery,
  type Destination,
  type DestinationLike,
  type OutgoingMessage,
  type Producer,
  type Reply,
  type RequestOptions,
  type SendOptions,
  type SendReceipt,
} from '@switchboard/core';
import type { MemoryBroker, MemoryRecord, Member } from './broker';
import { memoryCapabilities } from './capabilities';

const NAME = /^[A-Za-z0-9._:-]+$/;
const NAME_RULE = 'use 1-249 characters from A-Z a-z 0-9 . _ : -';

function checkedDestination(d: DestinationLike): Destination {
  const dest = toDestination(d);
  assertDestinationName(dest, NAME, 249, NAME_RULE);
  return dest;
}

/** A connection to a {@link MemoryBroker}. */
export class MemoryConnection implements Connection {
  readonly backend = 'memory';
  readonly capabilities = memoryCapabilities;
  readonly admin: Admin;
  private closed = false;
  private readonly producers = new Set<Producer>();
  private readonly consumers = new Set<Consumer>();

  constructor(
    readonly broker: MemoryBroker,
    readonly url: string,
  ) {
    this.admin = {
      ensureDestination: async (d) => {
        this.assertOpen();
        broker.log(checkedDestination(d));
      },
      deleteDestination: async (d) => {
        this.assertOpen();
        broker.delete(checkedDestination(d));
      },
    };
  }

  private assertOpen(): void {
    if (this.closed) throw closedError('memory connection');
  }

  producer(): Producer {
    this.assertOpen();
    const p = new MemoryProducer(this.broker, () => this.assertOpen());
    this.producers.add(p);
    return p;
  }

  async consumer(source: DestinationLike, options?: ConsumerOptions): Promise<Consumer> {
    this.assertOpen();
    const dest = checkedDestination(source);
    const opts = resolveConsumerOptions(dest, options);
    checkedDestination(opts.deadLetter);
    throwIfAborted(opts.signal);
    const broker = this.broker;
    const caps = this.capabilities;
    let push: ((d: Delivery) => void) | undefined;

    const toDelivery = (member: Member, rec: MemoryRecord, attempt: number, token: number): Delivery =>
      createDelivery(
        {
          id: rec.id,
          body: rec.body,
          key: rec.key,
          headers: rec.headers,
          attempt,
          destination: dest.name,
          receipt: `offset:${rec.offset}`,
          timestamp: new Date(rec.timestamp),
          replyTo: rec.replyTo,
          correlationId: rec.correlationId,
          preAcked: opts.ackMode === 'at-most-once',
        },
        {
          ack: async () => member.group.ack(rec.offset, token),
          nack: async (delayMs, reason) => member.group.nack(rec.offset, token, delayMs, reason ?? 'nacked'),
          reject: async (reason) => member.group.reject(rec.offset, token, reason),
          extend: async (ms) => {
            member.group.extend(rec.offset, token, ms);
          },
          respond: async (replyTo, correlationId, m) => broker.reply(replyTo, correlationId, m),
        },
        caps,
      );

    const member: Member = broker.join(dest, opts, {
      deliver: (rec, attempt, token) => {
        const d = toDelivery(member, rec, attempt, token);
        tokenOf.set(d, token);
        if (push) push(d);
        else member.group.release(rec.offset, token);
      },
    });
    const tokenOf = new WeakMap<Delivery, number>();
    const offsetOf = (d: Delivery) => Number(d.receipt.slice('offset:'.length));

    const consumer = createConsumer({
      source: dest,
      group: opts.group,
      startPush: (deliver) => {
        push = deliver;
        member.pushing = true;
        member.group.schedule();
        return {
          stop: async () => {
            member.pushing = false;
            push = undefined;
          },
        };
      },
      poll: async (max, waitMs, signal) => {
        const got = await member.group.poll(member, max, waitMs, signal);
        return got.map(({ record, attempt, token }) => {
          const d = toDelivery(member, record, attempt, token);
          tokenOf.set(d, token);
          return d;
        });
      },
      release: async (d) => {
        const token = tokenOf.get(d);
        if (token !== undefined && d.state === 'pending') member.group.release(offsetOf(d), token);
      },
      close: async () => {
        member.group.leave(member);
        this.consumers.delete(consumer);
      },
    });
    this.consumers.add(consumer);
    opts.signal?.addEventListener('abort', () => void consumer.close(), { once: true });
    return consumer;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.consumers].map((c) => c.close()));
    await Promise.allSettled([...this.producers].map((p) => p.close()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

class MemoryProducer implements Producer {
  private closed = false;
  private inbox: string | undefined;
  private readonly pending = new PendingReplies();

  constructor(
    private readonly broker: MemoryBroker,
    private readonly assertConnectionOpen: () => void,
  ) {}

  private assertOpen(): void {
    this.assertConnectionOpen();
    if (this.closed) throw closedError('memory producer');
  }

  send(destination: DestinationLike, message: OutgoingMessage | Body, options?: SendOptions): Promise<SendReceipt>;
  send(destination: DestinationLike, messages: readonly (OutgoingMessage | Body)[], options?: SendOptions): Promise<SendReceipt[]>;
  async send(
    destination: DestinationLike,
    input: OutgoingMessage | Body | readonly (OutgoingMessage | Body)[],
    options: SendOptions = {},
  ): Promise<SendReceipt | SendReceipt[]> {
    this.assertOpen();
    validateSendOptions(options);
    throwIfAborted(options.signal);
    const dest = checkedDestination(destination);
    const messages = normalizeMessages(input, options);
    assertMessageSizes(messages, this.broker.options.maxMessageBytes, 'memory://');
    const offsets = this.broker.append(dest, messages, { dedup: true });
    const confirm = options.confirm !== false;
    const receipts = messages.map<SendReceipt>((m, i) =>
      confirm
        ? { id: m.id, destination: dest.name, confirmed: true, brokerRef: `offset:${offsets[i]}` }
        : { id: m.id, destination: dest.name, confirmed: false },
    );
    return Array.isArray(input) ? receipts : receipts[0]!;
  }

  async request(destination: DestinationLike, message: OutgoingMessage | Body, options: RequestOptions = {}): Promise<Reply> {
    this.assertOpen();
    throwIfAborted(options.signal);
    const dest = checkedDestination(destination);
    const [m] = normalizeMessages(message, { headers: options.headers, key: options.key, id: options.id });
    assertMessageSizes([m!], this.broker.options.maxMessageBytes, 'memory://');
    this.inbox ??= this.broker.openInbox((correlationId, reply) => this.pending.resolve(correlationId, reply));
    const correlationId = randomUUID();
    const waiting = this.pending.wait(correlationId, options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, options.signal, `${dest.kind} ${dest.name}`);
    this.broker.append(dest, [m!], { dedup: true, replyTo: this.inbox, correlationId });
    return waiting;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pending.rejectAll(closedError('memory producer'));
    if (this.inbox) this.broker.closeInbox(this.inbox);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
