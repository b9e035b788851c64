import { SwitchboardError } from './errors';
import type { Body, Headers, OutgoingMessage, SendOptions } from './types';
import { newId } from './ids';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A message ready for an adapter: bytes, an id, merged headers. */
export interface NormalizedMessage {
  readonly id: string;
  /**
   * True when core made `id` because the caller gave none. Such an id is new: no earlier send can
   * have carried it, so a dedup window need not remember it, unless the driver itself sends the
   * message again (a retried publish after an unclear failure does).
   */
  readonly idGenerated?: boolean;
  readonly body: Uint8Array;
  readonly key: string | undefined;
  readonly headers: Headers;
  readonly delayMs: number | undefined;
}

export function toBytes(body: Body): Uint8Array {
  if (typeof body === 'string') return encoder.encode(body);
  if (body instanceof Uint8Array) return body;
  throw new SwitchboardError('invalid_argument', 'a message body is a Uint8Array or a string');
}

export function bytesToText(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

function isOutgoing(m: OutgoingMessage | Body): m is OutgoingMessage {
  return typeof m === 'object' && m !== null && !(m instanceof Uint8Array) && 'body' in m;
}

/**
 * Turns what a caller passed to `send` into adapter-ready messages: bodies as bytes, generated ids,
 * options merged under per-message fields. Throws `invalid_argument` for malformed input before
 * anything is sent.
 */
export function normalizeMessages(input: OutgoingMessage | Body | readonly (OutgoingMessage | Body)[], options: SendOptions = {}): NormalizedMessage[] {
  const list = Array.isArray(input) ? (input as readonly (OutgoingMessage | Body)[]) : [input as OutgoingMessage | Body];
  if (list.length === 0) throw new SwitchboardError('invalid_argument', 'send needs at least one message');
  if (list.length > 1 && options.id !== undefined) throw new SwitchboardError('invalid_argument', 'options.id applies to a single message; give each message its own id');
  const shared = options.headers;
  const out: NormalizedMessage[] = new Array(list.length);
  const single = list.length === 1;
  for (let i = 0; i < list.length; i++) {
    const m = list[i]!;
    // A bare body (the common case) needs no wrapper object.
    const msg: OutgoingMessage | undefined = isOutgoing(m) ? m : undefined;
    const body = msg ? msg.body : (m as Body);
    if (body === undefined || body === null) throw new SwitchboardError('invalid_argument', `message ${i} has no body`);
    const own = msg?.headers;
    // Always a fresh object: tracing and drivers may add to a message's headers.
    const headers: Headers = own === undefined ? (shared === undefined ? {} : { ...shared }) : shared === undefined ? { ...own } : { ...shared, ...own };
    for (const k in headers) {
      if (typeof headers[k] !== 'string') throw new SwitchboardError('invalid_argument', `message ${i}: header "${k}" must be a string`);
    }
    const key = msg?.key ?? options.key;
    if (key !== undefined && typeof key !== 'string') throw new SwitchboardError('invalid_argument', `message ${i}: key must be a string`);
    const given = msg?.id ?? (single ? options.id : undefined);
    out[i] = {
      id: given ?? newId(),
      idGenerated: given === undefined,
      body: toBytes(body),
      key,
      headers,
      delayMs: options.delayMs,
    };
  }
  return out;
}

/**
 * Whether `m` is named by the broker on a session that declares
 * `DriverSession.brokerNamesMessages`: its id was generated (the caller gave none), the send
 * waits for the broker's confirmation, which carries the name, and it has no delay (a delayed
 * message is stored, and named, only after its send resolved). The driver leaves such an id off
 * the wire and core reports the broker's reference as the message's id. One rule for both sides.
 */
export function idFromBroker(m: NormalizedMessage, confirm: boolean): boolean {
  return confirm && m.idGenerated === true && !m.delayMs;
}

/** Total size of a message as most brokers count it: body, key, header names and values. */
export function messageSize(m: NormalizedMessage): number {
  let n = m.body.byteLength + (m.key ? Buffer.byteLength(m.key) : 0);
  const h = m.headers;
  for (const k in h) n += Buffer.byteLength(k) + Buffer.byteLength(h[k]!);
  return n;
}

/** Throws `payload_too_large` naming the message and the limit, before anything is sent. */
export function assertMessageSizes(messages: readonly NormalizedMessage[], limitBytes: number, what: string): void {
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    const size = messageSize(m);
    if (size > limitBytes) {
      throw new SwitchboardError('payload_too_large', `message ${i} (id ${m.id}) is ${size} bytes; ${what} accepts at most ${limitBytes}`, {
        details: { size, limit: limitBytes, index: i },
      });
    }
  }
}
