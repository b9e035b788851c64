import { requireCapability, type Capabilities } from './capabilities';
import { SwitchboardError } from './errors';
import { bytesToText, normalizeMessages, type NormalizedMessage } from './message';
import type { Body, Delivery, DeliveryState, Headers, NackOptions, OutgoingMessage } from './types';

/** The broker-facing half of a delivery, written by each adapter. Called at most once per settle. */
export interface DeliverySettler {
  ack(): Promise<void>;
  /** `reason` is the handler's error, kept on the dead letter when this was the last attempt. */
  nack(delayMs: number | undefined, reason?: string): Promise<void>;
  extend(ms: number): Promise<void>;
  reject(reason: string): Promise<void>;
  respond(replyTo: string, correlationId: string | undefined, message: NormalizedMessage): Promise<void>;
}

/**
 * What settles deliveries at the broker: one object per consumer, shared by all its deliveries,
 * each call given the delivery's own state `T` (so a delivery carries no closures of its own).
 */
export interface DeliveryOps<T> {
  readonly capabilities: Capabilities;
  ack(state: T): Promise<void>;
  nack(state: T, delayMs: number | undefined, reason: string | undefined): Promise<void>;
  reject(state: T, reason: string): Promise<void>;
  extend(state: T, ms: number): Promise<void>;
  respond(state: T, replyTo: string, correlationId: string | undefined, message: NormalizedMessage): Promise<void>;
}

/** The message fields a delivery carries, as a driver decoded them ({@link DeliveryInit} adds the rest). */
export interface DeliveryFields {
  readonly id: string;
  readonly body: Uint8Array;
  readonly key: string | undefined;
  /** The application's headers only: the driver strips what it wrote for itself. */
  readonly headers: Headers;
  /**
   * 1 on first delivery, +1 on each redelivery. A message past the consumer's `maxAttempts` (its
   * last attempt ran out a native ack deadline) is dead-lettered by core instead of handed out.
   */
  readonly attempt: number;
  /** Broker reference of this delivery: offset, sequence, receipt handle, delivery tag. */
  readonly receipt: string;
  /**
   * Where the message sits in its source's retained log, in the form the driver accepts back as
   * `from: { position }` (inclusive). Absent where the source keeps no log to replay.
   */
  readonly position?: string | undefined;
  readonly timestamp: Date;
  readonly replyTo?: string | undefined;
  readonly correlationId?: string | undefined;
}

export interface DeliveryInit extends DeliveryFields {
  destination: string;
  /** at-most-once deliveries arrive already acked. */
  preAcked?: boolean;
}

/**
 * The one Delivery implementation. It keeps the contract every delivery has: settling is
 * idempotent, a conflicting settle throws `already_settled`, capabilities are checked before the
 * broker is touched, and a failed settle leaves the delivery pending so it can be retried.
 *
 * Its methods live on the prototype and its bookkeeping in private fields, so a delivery costs one
 * object. A wrapper made with `Object.create(delivery, { ... })` (as middleware does) keeps working:
 * every method finds the delivery it wraps. Spreading a delivery (`{ ...d }`) copies only its data.
 */
export class CoreDelivery<T> implements Delivery {
  readonly id: string;
  readonly body: Uint8Array;
  readonly key: string | undefined;
  readonly headers: Headers;
  readonly attempt: number;
  readonly destination: string;
  readonly receipt: string;
  readonly position: string | undefined;
  readonly timestamp: Date;
  readonly replyTo: string | undefined;
  readonly correlationId: string | undefined;
  #state: DeliveryState;
  #inFlight: Promise<void> | undefined = undefined;
  readonly #ops: DeliveryOps<T>;
  readonly #own: T;

  /**
   * `init` is read, not kept: a driver's decoded message can be passed as it is, with the
   * destination's name and whether it arrives settled given apart (no object built per delivery for it).
   */
  constructor(init: DeliveryFields, destination: string, preAcked: boolean, ops: DeliveryOps<T>, own: T) {
    this.id = init.id;
    this.body = init.body;
    this.key = init.key;
    this.headers = init.headers;
    this.attempt = init.attempt;
    this.destination = destination;
    this.receipt = init.receipt;
    this.position = init.position;
    this.timestamp = init.timestamp;
    this.replyTo = init.replyTo;
    this.correlationId = init.correlationId;
    this.#state = preAcked ? 'acked' : 'pending';
    this.#ops = ops;
    this.#own = own;
  }

  /** The state `T` a delivery (or a wrapper of one) was made with; undefined for any other object. */
  static stateOf<T>(d: object): T | undefined {
    const core = CoreDelivery.find(d);
    return core ? (core.#own as unknown as T) : undefined;
  }

  /** `d` itself, or the CoreDelivery a wrapper made with `Object.create` inherits from. */
  private static find(d: object | null): CoreDelivery<unknown> | undefined {
    for (let o = d; o !== null; o = Object.getPrototypeOf(o) as object | null) if (#state in o) return o as CoreDelivery<unknown>;
    return undefined;
  }

  private static core<T>(d: CoreDelivery<T>): CoreDelivery<T> {
    if (#state in d) return d;
    const found = CoreDelivery.find(d);
    if (!found) throw new TypeError('not a delivery');
    return found as CoreDelivery<T>;
  }

  get state(): DeliveryState {
    return CoreDelivery.core(this).#state;
  }

  text(): string {
    return bytesToText(this.body);
  }

  json<J = unknown>(): J {
    return JSON.parse(bytesToText(this.body)) as J;
  }

  ack(): Promise<void> {
    return CoreDelivery.core(this).settle('acked', undefined, undefined);
  }

  async nack(options?: NackOptions): Promise<void> {
    const self = CoreDelivery.core(this);
    const delayMs = options?.delayMs;
    if (delayMs !== undefined) {
      if (!Number.isFinite(delayMs) || delayMs < 0) throw new SwitchboardError('invalid_argument', 'nack delayMs must be a non-negative number');
      if (delayMs > 0) requireCapability(self.#ops.capabilities, 'nackDelay');
    }
    return self.settle('nacked', delayMs, options?.reason);
  }

  async reject(reason: string): Promise<void> {
    const self = CoreDelivery.core(this);
    requireCapability(self.#ops.capabilities, 'reject');
    return self.settle('rejected', undefined, String(reason));
  }

  async extend(ms: number): Promise<void> {
    const self = CoreDelivery.core(this);
    requireCapability(self.#ops.capabilities, 'extend');
    if (!Number.isFinite(ms) || ms <= 0) throw new SwitchboardError('invalid_argument', 'extend(ms) needs a positive number of milliseconds');
    if (self.#state !== 'pending') throw new SwitchboardError('already_settled', `delivery ${self.id} is already ${self.#state}; cannot extend it`);
    await self.#ops.extend(self.#own, ms);
  }

  async respond(message: OutgoingMessage | Body): Promise<void> {
    const self = CoreDelivery.core(this);
    if (!self.replyTo) throw new SwitchboardError('invalid_argument', `delivery ${self.id} is not a request: it has no reply-to`);
    const [m] = normalizeMessages(message);
    await self.#ops.respond(self.#own, self.replyTo, self.correlationId, m!);
  }

  private settle(target: Exclude<DeliveryState, 'pending'>, delayMs: number | undefined, reason: string | undefined): Promise<void> {
    if (this.#state === target) return this.#inFlight ?? Promise.resolve();
    if (this.#state !== 'pending') {
      return Promise.reject(new SwitchboardError('already_settled', `delivery ${this.id} is already ${this.#state}; cannot ${verb(target)} it`));
    }
    this.#state = target;
    this.#inFlight = this.run(target, delayMs, reason);
    return this.#inFlight;
  }

  private run(target: Exclude<DeliveryState, 'pending'>, delayMs: number | undefined, reason: string | undefined): Promise<void> {
    let sent: Promise<void>;
    try {
      if (target === 'acked') sent = this.#ops.ack(this.#own);
      else if (target === 'nacked') sent = this.#ops.nack(this.#own, delayMs, reason);
      else sent = this.#ops.reject(this.#own, reason!);
    } catch (err) {
      sent = Promise.reject(err);
    }
    return sent.then(undefined, (err: unknown) => {
      this.#state = 'pending';
      this.#inFlight = undefined;
      throw err;
    });
  }
}

/** Adapts one settler per delivery (tests, simple adapters) to {@link DeliveryOps}. */
const SETTLER_OPS_CACHE = new WeakMap<Capabilities, DeliveryOps<DeliverySettler>>();

/** A delivery over a per-delivery {@link DeliverySettler}. */
export function createDelivery(init: DeliveryInit, settler: DeliverySettler, capabilities: Capabilities): Delivery {
  let ops = SETTLER_OPS_CACHE.get(capabilities);
  if (!ops) {
    ops = {
      capabilities,
      ack: (s) => s.ack(),
      nack: (s, delayMs, reason) => s.nack(delayMs, reason),
      reject: (s, reason) => s.reject(reason),
      extend: (s, ms) => s.extend(ms),
      respond: (s, replyTo, correlationId, m) => s.respond(replyTo, correlationId, m),
    };
    SETTLER_OPS_CACHE.set(capabilities, ops);
  }
  return new CoreDelivery(init, init.destination, init.preAcked === true, ops, settler);
}

function verb(s: DeliveryState): string {
  return s === 'acked' ? 'ack' : s === 'nacked' ? 'nack' : s === 'rejected' ? 'reject' : s;
}
