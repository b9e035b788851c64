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

export interface DeliveryInit {
  id: string;
  body: Uint8Array;
  key: string | undefined;
  headers: Headers;
  attempt: number;
  destination: string;
  receipt: string;
  /** Where the message sits in a retained log, for `from: { position }`; undefined without one. */
  position?: string | undefined;
  timestamp: Date;
  replyTo?: string | undefined;
  correlationId?: string | undefined;
  /** at-most-once deliveries arrive already acked. */
  preAcked?: boolean;
}

/**
 * Wraps an adapter's settler in the contract every Delivery keeps: settling is idempotent, a
 * conflicting settle throws `already_settled`, capabilities are checked before the broker is
 * touched, and a failed settle leaves the delivery pending so it can be retried.
 */
export function createDelivery(init: DeliveryInit, settler: DeliverySettler, capabilities: Capabilities): Delivery {
  let state: DeliveryState = init.preAcked ? 'acked' : 'pending';
  let inFlight: Promise<void> | undefined;

  const settle = async (target: Exclude<DeliveryState, 'pending'>, run: () => Promise<void>): Promise<void> => {
    if (state === target) return inFlight ?? Promise.resolve();
    if (state !== 'pending') {
      throw new SwitchboardError('already_settled', `delivery ${init.id} is already ${state}; cannot ${verb(target)} it`);
    }
    state = target;
    inFlight = run().catch((err: unknown) => {
      state = 'pending';
      inFlight = undefined;
      throw err;
    });
    return inFlight;
  };

  const delivery: Delivery = {
    id: init.id,
    body: init.body,
    key: init.key,
    headers: init.headers,
    attempt: init.attempt,
    destination: init.destination,
    receipt: init.receipt,
    position: init.position,
    timestamp: init.timestamp,
    replyTo: init.replyTo,
    correlationId: init.correlationId,
    get state() {
      return state;
    },
    text: () => bytesToText(init.body),
    json: <T>() => JSON.parse(bytesToText(init.body)) as T,
    ack: () => settle('acked', () => settler.ack()),
    nack: async (options?: NackOptions) => {
      const delayMs = options?.delayMs;
      if (delayMs !== undefined) {
        if (!Number.isFinite(delayMs) || delayMs < 0) throw new SwitchboardError('invalid_argument', 'nack delayMs must be a non-negative number');
        if (delayMs > 0) requireCapability(capabilities, 'nackDelay');
      }
      return settle('nacked', () => settler.nack(delayMs, options?.reason));
    },
    reject: async (reason: string) => {
      requireCapability(capabilities, 'reject');
      return settle('rejected', () => settler.reject(String(reason)));
    },
    extend: async (ms: number) => {
      requireCapability(capabilities, 'extend');
      if (!Number.isFinite(ms) || ms <= 0) throw new SwitchboardError('invalid_argument', 'extend(ms) needs a positive number of milliseconds');
      if (state !== 'pending') throw new SwitchboardError('already_settled', `delivery ${init.id} is already ${state}; cannot extend it`);
      await settler.extend(ms);
    },
    respond: async (message: OutgoingMessage | Body) => {
      if (!init.replyTo) throw new SwitchboardError('invalid_argument', `delivery ${init.id} is not a request: it has no reply-to`);
      const [m] = normalizeMessages(message);
      await settler.respond(init.replyTo, init.correlationId, m!);
    },
  };
  return delivery;
}

function verb(s: DeliveryState): string {
  return s === 'acked' ? 'ack' : s === 'nacked' ? 'nack' : s === 'rejected' ? 'reject' : s;
}
