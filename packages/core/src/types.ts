import type { Schema, Serializer, TypedDelivery, TypedProducer } from './typed';
import type { Capabilities } from './capabilities';

/** Message headers: string keys and values, as every broker can carry them. */
export type Headers = Record<string, string>;

/** A message body: bytes, or a string that is sent as UTF-8. */
export type Body = Uint8Array | string;

/**
 * Where messages go. A `queue` is a mailbox: a durable destination consumed by competing
 * consumers. A `topic` fans out: every subscription group gets every message, and consumers
 * within one group compete. Strings are shorthands: `"topic:name"`, `"queue:name"`, and a bare
 * name is a queue.
 */
export interface Destination {
  readonly kind: 'queue' | 'topic';
  readonly name: string;
}
export type DestinationLike = Destination | string;

/** A message to send. Fields left out fall back to the send options. */
export interface OutgoingMessage {
  body: Body;
  /** Ordering and partitioning key: messages with one key keep their order where `orderingPerKey` holds. */
  key?: string;
  headers?: Headers;
  /** Message id, used for dedup (effectively-once). A UUID is generated when absent. */
  id?: string;
}

export interface SendOptions {
  /**
   * true (default): resolve only once the broker accepted the message, reject when it refused.
   * false: fire-and-forget; resolve once the message is handed to the client, with `confirmed: false`.
   */
  confirm?: boolean;
  key?: string;
  headers?: Headers;
  /** Deliver no earlier than this many milliseconds from now (capability `delayedSend`). */
  delayMs?: number;
  /** Message id for a single message (for dedup). */
  id?: string;
  signal?: AbortSignal;
}

/** What a send resolves with, one per message, in the order given. */
export interface SendReceipt {
  /**
   * The message id: the one given, else one core generated; on a backend whose broker names each
   * message (Redis: the stream entry id), a confirmed send without a delay takes that name instead.
   * Every delivery of the message carries this id.
   */
  readonly id: string;
  readonly destination: string;
  /** Whether the broker confirmed this message. */
  readonly confirmed: boolean;
  /** The broker's own reference: an offset, sequence, MessageId or delivery tag. Absent when not confirmed. */
  readonly brokerRef?: string;
}

export interface RequestOptions {
  /** Deadline for the reply (default 5000 ms). */
  timeoutMs?: number;
  headers?: Headers;
  key?: string;
  id?: string;
  signal?: AbortSignal;
}

/** A reply to {@link Producer.request}. */
export interface Reply {
  readonly body: Uint8Array;
  readonly headers: Headers;
  readonly correlationId: string;
  text(): string;
}

export interface Producer extends AsyncDisposable {
  /**
   * Sends one message or a batch. Resolves with one receipt per message once each is confirmed
   * (or handed over, with `confirm: false`). Rejects with a typed error; for a batch, the error's
   * `details.receipts` holds the receipts of the messages that did succeed.
   * Bad input (destination name, size, header count) is rejected before anything is sent.
   */
  send(destination: DestinationLike, message: OutgoingMessage | Body, options?: SendOptions): Promise<SendReceipt>;
  send(destination: DestinationLike, messages: readonly (OutgoingMessage | Body)[], options?: SendOptions): Promise<SendReceipt[]>;
  /**
   * Request/response: sends the message with reply-to and correlation id set, and resolves with the
   * correlated reply. Rejects with `timeout` (or `no_responders`) at the deadline, `aborted` on the signal.
   */
  request(destination: DestinationLike, message: OutgoingMessage | Body, options?: RequestOptions): Promise<Reply>;
  /** Idempotent. Pending confirmed sends finish first. */
  close(): Promise<void>;
}

/**
 * Where a new group starts reading a retained stream. Ignored for a group that has a committed position.
 * `{ position }` starts at the message whose {@link Delivery.position} that is, inclusive (on a
 * partitioned log the other partitions start at the first message stored at or after it);
 * `{ offset }` is the backend's own offset notation.
 */
export type StartPosition =
  | 'earliest'
  | 'latest'
  | { readonly position: string }
  | { readonly offset: string | number }
  | { readonly timestamp: number | Date };

export type AckMode = 'at-least-once' | 'at-most-once';

export interface ConsumerOptions {
  /** Subscription group. For topics each group receives every message; members of one group compete. Default "default". */
  group?: string;
  /** Start position of a new group on a topic (default "latest"); queues always start at their backlog. */
  from?: StartPosition;
  /** Maximum unacked deliveries held by this consumer (default 16). */
  prefetch?: number;
  /** at-least-once (default): ack after handling. at-most-once: acked on receipt, never redelivered. */
  ackMode?: AckMode;
  /**
   * Redeliver an unacked delivery after this long (default 30000 ms). Per member: it applies to the
   * deliveries this consumer holds, whatever other members of the group chose.
   */
  ackTimeoutMs?: number;
  /**
   * Dead-letter a message after this many failed deliveries. Unlimited when absent. Per member: this
   * consumer dead-letters a message when an attempt it holds fails (nack or ack timeout) and was
   * attempt `maxAttempts` or later, and on receipt when the message already used more attempts than
   * that (failed at members that allow more, or lost to a broker-side deadline). Another member's
   * value never applies to this consumer's deliveries.
   */
  maxAttempts?: number;
  /** Dead-letter destination (default: queue `<source name>-dlq`). */
  deadLetter?: DestinationLike;
  /** Only deliver messages whose headers have these exact values (capability `headerFilter`). */
  filter?: Headers;
  signal?: AbortSignal;
}

/** Options of a typed producer (see `Connection.producer`). */
export interface TypedProducerOptions<T> {
  schema: Schema<T>;
  /** Encodes each value after validation (default: UTF-8 JSON). */
  serializer?: Serializer;
}

/** Options of a typed consumer (see `Connection.consumer`). */
export interface TypedConsumerOptions<T> {
  schema: Schema<T>;
  /** Decodes bodies before validation (default: UTF-8 JSON). */
  serializer?: Serializer;
}

export interface NackOptions {
  /** Do not redeliver before this many milliseconds (capability `nackDelay`). */
  delayMs?: number;
  /** Why handling failed; kept as the last error on a dead letter. */
  reason?: string;
}

export type DeliveryState = 'pending' | 'acked' | 'nacked' | 'rejected';

/**
 * One delivery of a message to a consumer. Settle it exactly once: `ack`, `nack` or `reject`.
 * Repeating the same settle is a no-op; a conflicting one throws `already_settled` and changes nothing.
 */
export interface Delivery {
  readonly id: string;
  readonly body: Uint8Array;
  readonly key: string | undefined;
  readonly headers: Headers;
  /** 1 on first delivery, +1 on each redelivery. */
  readonly attempt: number;
  readonly destination: string;
  /** Broker reference of this delivery (offset, sequence, receipt handle, delivery tag). */
  readonly receipt: string;
  /**
   * Where the message sits in its source's retained log, for `from: { position }` (replay from
   * exactly this message). Undefined where the source keeps no log to replay (capability `replayFromPosition`).
   */
  readonly position: string | undefined;
  readonly timestamp: Date;
  /** Set on requests: where the reply goes, and the id that correlates it. */
  readonly replyTo: string | undefined;
  readonly correlationId: string | undefined;
  readonly state: DeliveryState;
  text(): string;
  json<T = unknown>(): T;
  /** Done: never delivered again to this group. */
  ack(): Promise<void>;
  /** Failed: deliver again (after `delayMs` if given), or dead-letter once attempts are used up. */
  nack(options?: NackOptions): Promise<void>;
  /** Push the ack deadline `ms` milliseconds from now (capability `extend`). */
  extend(ms: number): Promise<void>;
  /** Poison: straight to the dead-letter destination with `reason`, no retry. */
  reject(reason: string): Promise<void>;
  /** Answers a request (needs `replyTo`). Does not settle the delivery. */
  respond(message: OutgoingMessage | Body): Promise<void>;
}

/** A stream of deliveries. Iterate it; dispose or `close()` it to stop. */
export interface Subscription<D extends Delivery = Delivery> extends AsyncIterable<D>, AsyncDisposable {
  /** Stops delivery; unhandled buffered deliveries are released to the broker. Idempotent. */
  close(): Promise<void>;
}

export interface ConsumeOptions {
  /**
   * Handlers running at once (default 1). Deliveries with one key never run at once: a delivery
   * whose key is being handled waits behind it, so per-key order holds at any concurrency.
   * A handler's slot frees once it returned and its delivery's ack or nack was sent; the broker's
   * answer to that settle is awaited outside the slot (`close()` still waits for it), except for a
   * delivery with a key, whose key stays held until the settle is confirmed. How many deliveries
   * are unsettled at once is the consumer's `prefetch`, not this.
   */
  concurrency?: number;
  signal?: AbortSignal;
}

/**
 * How long a graceful close may wait. Past `timeoutMs` (default {@link DEFAULT_CLOSE_TIMEOUT_MS}
 * from `@switchboard/core`), deliveries still unsettled are handed back to the broker, which
 * delivers them again (each counts as an attempt), and close resolves: a handler stuck on a dead
 * downstream cannot hold a shutdown. A handler that settles afterwards gets a `closed` error.
 * Handing back takes at most 1 s more. A later call with a shorter `timeoutMs` shortens the wait.
 */
export interface CloseOptions {
  /** Milliseconds, 0 or more (0: hand back at once). */
  timeoutMs?: number;
}

/** A running `consume()` loop. */
export interface ConsumeHandle extends AsyncDisposable {
  /**
   * Stops taking deliveries, waits for handlers in flight and settles them, up to the close
   * deadline ({@link CloseOptions}); past it, unsettled deliveries go back to the broker.
   */
  close(options?: CloseOptions): Promise<void>;
  /** Resolves when the loop ends. */
  readonly done: Promise<void>;
}

export interface PollOptions {
  /** At most this many deliveries (default 10). */
  max?: number;
  /** Wait up to this long for the first delivery (default 0: return at once). */
  waitMs?: number;
  signal?: AbortSignal;
}

/**
 * A member of one group on one source. Created ready: messages published after
 * `connection.consumer()` resolved will reach the group.
 */
export interface Consumer<D extends Delivery = Delivery> extends AsyncDisposable {
  readonly source: Destination;
  readonly group: string;
  /** Push delivery. One active subscription per consumer. */
  subscribe(options?: { signal?: AbortSignal }): Subscription<D>;
  /** Resolve = ack, throw = nack (at-least-once). In at-most-once mode the ack comes first. */
  consume(handler: (delivery: D) => Promise<void> | void, options?: ConsumeOptions): ConsumeHandle;
  /** Pull delivery: up to `max` deliveries, waiting up to `waitMs` for the first (long polling). */
  poll(options?: PollOptions): Promise<D[]>;
  /**
   * Graceful: stops subscriptions, waits for handlers in flight (up to the close deadline, see
   * {@link CloseOptions}), releases what was not handled. Idempotent.
   */
  close(options?: CloseOptions): Promise<void>;
}

export interface DestinationOptions {
  /** Partitions or shards, where the backend has them. */
  partitions?: number;
  /** Retention for replay, where the backend retains. */
  retentionMs?: number;
}

/** One broker object Switchboard made for a destination (a queue, topic, stream, group, ...). */
export interface BrokerObject {
  /** The broker's own word for it, e.g. "queue", "exchange", "stream", "topic", "consumer group", "subscription". */
  readonly type: string;
  /** Its name on the broker. */
  readonly name: string;
  /** The group it belongs to, for per-group objects. */
  readonly group?: string;
}

/** Topology management. Every call is idempotent. */
export interface Admin {
  ensureDestination(destination: DestinationLike, options?: DestinationOptions): Promise<void>;
  /** Deletes the destination and every per-group object Switchboard made for it (group queues, retry topics, subscriptions). */
  deleteDestination(destination: DestinationLike): Promise<void>;
  /** Deletes what one group of a destination left on the broker (its queue, offsets, retry objects). Idempotent. */
  deleteGroup(destination: DestinationLike, group: string): Promise<void>;
  /** What Switchboard made on the broker for this destination, per-group objects included. */
  listObjects(destination: DestinationLike): Promise<BrokerObject[]>;
}

/** What one message may carry on this connection's backend; a send past any of them fails before anything is sent. */
export interface Limits {
  /** Largest message: body, key, header names and values. */
  readonly maxMessageBytes: number;
  /** Most headers of the application's own per message, where the broker counts them (SQS: 9). Trace headers count too. */
  readonly maxHeaders?: number;
  /** Longest `delayMs` of a send or nack, where the broker caps it (SQS: 900000). */
  readonly maxDelayMs?: number;
}

export interface Connection extends AsyncDisposable {
  /** Adapter name, e.g. "memory", "kafka". */
  readonly backend: string;
  /** The backend's per-message limits, for an application to check against. */
  readonly limits: Limits;
  /** The URL with any password removed. */
  readonly url: string;
  readonly capabilities: Capabilities;
  readonly admin: Admin;
  producer(): Producer;
  /**
   * A typed producer: each value is validated against `schema` (any Standard Schema validator) and
   * encoded by `serializer` (JSON by default) before it is sent; a value that fails is an
   * `invalid_argument` error listing the issues, and nothing is sent.
   */
  producer<T>(options: TypedProducerOptions<T>): TypedProducer<T>;
  /**
   * Joins a group on `source`. With `schema` (any Standard Schema validator: zod, valibot, arktype),
   * each delivery's body is decoded (`serializer`, JSON by default) and validated first: `d.data` is
   * typed, and a message that fails is rejected to the dead-letter destination with the issues as
   * its reason, never retried and never handed to the application.
   */
  consumer<T>(source: DestinationLike, options: ConsumerOptions & TypedConsumerOptions<T>): Promise<Consumer<TypedDelivery<T>>>;
  consumer(source: DestinationLike, options?: ConsumerOptions): Promise<Consumer>;
  /** Closes consumers (with the close deadline of {@link CloseOptions}) and producers gracefully. Idempotent. */
  close(options?: CloseOptions): Promise<void>;
}
