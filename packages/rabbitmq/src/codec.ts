import { HEADERS, SwitchboardError, type Headers } from '@switchboard/core';
import type { NormalizedMessage } from '@switchboard/core/driver';
import { randomUUID } from 'node:crypto';
import type { Message, Options } from 'amqplib';

/**
 * amqplib encodes a message's `headers` field table into one shared 64 KiB scratch buffer
 * (`SCRATCH = Buffer.alloc(65536)` in amqplib's `lib/defs.js`, bounds-checked by `checkSpace` in
 * `lib/codec.js`); a larger table throws "exceeds the 65536 byte encoding buffer" from inside
 * `publish`. The 4-byte table length counts toward it.
 */
export const AMQPLIB_TABLE_BUFFER = 65536;
/**
 * Bytes of a content header frame besides its properties: frame type, channel, size (7), class id,
 * weight, body size, property flags (14) and the frame end octet (1). The frame must fit the
 * negotiated `frame_max` (RabbitMQ refuses a payload over frame_max - 8 as `frame_too_large`).
 */
export const HEADER_FRAME_OVERHEAD = 22;
/**
 * Encoded header bytes kept free on a send for what the adapter and core add later: `sb-attempt` on a
 * retry and the `sb-dead-letter-*` headers on a dead letter (a dead letter's reason is cut to fit).
 */
export const HEADER_RESERVE = 1024;
/** Longest AMQP short string (queue and exchange names, property strings such as message-id, table keys), in UTF-8 bytes. */
export const SHORTSTR_MAX = 255;

/** Headers the adapter writes for itself; they never reach the application's `headers`. */
const INTERNAL = new Set<string>([HEADERS.attempt, HEADERS.key, HEADERS.messageId, HEADERS.notBefore, 'sb-ts', 'sb-shard']);
/** The shard of a message sent to a partitioned topic (decimal string): the group shard queues' bindings match on it. */
export const SHARD_HEADER = 'sb-shard';
/** Send time in ms (AMQP's timestamp property has second precision); used for stream replay by timestamp. */
export const SENT_AT = 'sb-ts';
/** Headers RabbitMQ adds (dead-lettering, quorum queues, streams). */
const BROKER = /^x-(death|first-death-.*|last-death-.*|delivery-count|stream-.*|opt-.*|received-from)$/;

/** What {@link publishOptions} adds to a message besides its own headers. */
export interface PublishExtra {
  attempt?: number;
  replyTo?: string;
  correlationId?: string;
  expiration?: number;
  /**
   * Adds the `sb-ts` header (send time in ms). Topic sends need it: a topic's stream retains only
   * messages carrying it, and replay from a timestamp reads it. A queue send goes without (the
   * `timestamp` property carries the send time in seconds), so a message with no headers, key or
   * long id carries no header table at all. Default true.
   */
  stamp?: boolean;
  /** Adds the `sb-shard` header (a partitioned topic's group shard queues are bound on it). */
  shard?: number | 'any';
}

/**
 * Publish properties of an outgoing message: persistent, with its id, key and attempt carried in
 * properties/headers. An id longer than an AMQP short string (255 UTF-8 bytes) goes in `sb-message-id`.
 * Headers are sent only when there is something to carry: the message's own headers object is
 * passed as it is when nothing is added to it, and no table at all when it is empty and nothing is added.
 */
export function publishOptions(m: NormalizedMessage, extra: PublishExtra = {}): Options.Publish {
  const now = Date.now();
  const o: Options.Publish = {
    persistent: true,
    timestamp: Math.floor(now / 1000),
  };
  const longId = Buffer.byteLength(m.id, 'utf8') > SHORTSTR_MAX;
  const retried = extra.attempt !== undefined && extra.attempt > 1;
  const stamp = extra.stamp !== false;
  if (stamp || longId || retried || m.key !== undefined || extra.shard !== undefined) {
    const headers: Record<string, string | number> = { ...m.headers };
    if (stamp) headers[SENT_AT] = String(now);
    if (extra.shard !== undefined) headers[SHARD_HEADER] = String(extra.shard);
    if (m.key !== undefined) headers[HEADERS.key] = m.key;
    if (retried) headers[HEADERS.attempt] = String(extra.attempt);
    if (longId) headers[HEADERS.messageId] = m.id;
    o.headers = headers;
  } else if (hasKeys(m.headers)) o.headers = m.headers;
  // message-id is an AMQP short string (255 bytes); a longer id travels in a header instead.
  if (!longId) o.messageId = m.id;
  if (extra.replyTo !== undefined) o.replyTo = extra.replyTo;
  if (extra.correlationId !== undefined) o.correlationId = extra.correlationId;
  if (extra.expiration !== undefined) o.expiration = String(extra.expiration);
  return o;
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

/**
 * Properties to republish a received message with (retry, delay, dead letter): broker headers dropped,
 * attempt replaced. `id` is the message's Delivery id: a message that came without `message_id` gets
 * its generated id as `message_id`, so its retries keep it.
 */
export function republishOptions(msg: Message, attempt: number, extraHeaders: Record<string, string> = {}, id?: string): Options.Publish {
  const raw = msg.properties.headers ?? {};
  const headers: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (!BROKER.test(k) && k !== HEADERS.attempt) headers[k] = v;
  if (attempt > 1) headers[HEADERS.attempt] = String(attempt);
  Object.assign(headers, extraHeaders);
  const p = msg.properties;
  const o: Options.Publish = { persistent: true, headers };
  if (p.messageId !== undefined) o.messageId = p.messageId;
  else if (id !== undefined && raw[HEADERS.messageId] === undefined && Buffer.byteLength(id, 'utf8') <= SHORTSTR_MAX) o.messageId = id;
  if (p.correlationId !== undefined) o.correlationId = p.correlationId;
  if (p.replyTo !== undefined) o.replyTo = p.replyTo;
  if (p.timestamp !== undefined) o.timestamp = p.timestamp;
  if (p.contentType !== undefined) o.contentType = p.contentType;
  if (p.type !== undefined) o.type = p.type;
  return o;
}

/** Marks a byte-array header value (AMQP field type `x`) rendered as base64: `base64:<standard base64>`. */
export const BYTES_PREFIX = 'base64:';

/** An AMQP decimal (`{ places, digits }` as amqplib decodes it) as an exact decimal string: 15 with 1 place is "1.5", 150 with 2 is "1.50". */
export function renderDecimal(places: number, digits: number): string {
  const sign = digits < 0 ? '-' : '';
  const s = String(Math.abs(digits));
  if (places <= 0) return `${sign}${s}`;
  const padded = s.padStart(places + 1, '0');
  return `${sign}${padded.slice(0, -places)}.${padded.slice(-places)}`;
}

/** amqplib's tagged value (`{ '!': type, value }`) for types it cannot give as plain JS values. */
function tagged(v: object): { type: string; value: unknown } | undefined {
  if (!Object.hasOwn(v, '!')) return undefined;
  const t = (v as Record<string, unknown>)['!'];
  return typeof t === 'string' ? { type: t, value: (v as Record<string, unknown>).value } : undefined;
}

/** A value nested in a table or array, as JSON: strings, numbers, booleans, null (void) as such; decimals, bytes and timestamps as in {@link renderHeaderValue}. */
function nestedJson(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return renderHeaderValue(v);
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(nestedJson);
  if (typeof v === 'object') {
    const t = tagged(v);
    if (t) return t.type === 'timestamp' && typeof t.value === 'number' ? t.value : renderHeaderValue(v);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = nestedJson(x);
    return out;
  }
  return v;
}

/**
 * A received AMQP header value as the string a Switchboard consumer sees (the rendering the README's
 * "Wire format" documents): strings as they are; integers, floats and doubles in JavaScript's
 * shortest round-trip form ("42", "-7", "2.25"); booleans "true"/"false"; void as ""; a decimal
 * exactly ("1.5", scale kept: "1.50"); a timestamp as seconds since the epoch ("1700000000"); a byte
 * array as `base64:<base64>` (every byte kept); a nested table or array as JSON of its values
 * (decimals, byte arrays as strings like above, void as null).
 */
export function renderHeaderValue(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return BYTES_PREFIX + Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'object') {
    const t = tagged(v);
    if (t?.type === 'decimal') {
      const d = t.value as { places?: unknown; digits?: unknown } | undefined;
      if (d && typeof d.places === 'number' && typeof d.digits === 'number') return renderDecimal(d.places, d.digits);
    }
    if (t && (typeof t.value === 'number' || typeof t.value === 'bigint' || typeof t.value === 'string')) return String(t.value);
    try {
      return JSON.stringify(nestedJson(v));
    } catch {
      return String(v);
    }
  }
  return String(v);
}

const nonEmpty = (s: string | undefined): string | undefined => (s === undefined || s === '' ? undefined : s);

/** An internal header's text (the adapter writes them as strings; a foreign publisher may not). */
function headerText(v: unknown): string | undefined {
  return v === undefined || v === null ? undefined : renderHeaderValue(v);
}

export interface DecodedMessage {
  id: string;
  body: Uint8Array;
  key: string | undefined;
  headers: Headers;
  /** The attempt carried in the message (1 when absent), plus the broker's redeliveries of it ({@link redeliveries}). */
  attempt: number;
  timestamp: Date;
  replyTo: string | undefined;
  correlationId: string | undefined;
}

/**
 * The id of a message that carries none (a foreign publisher left out `message_id`): `<source>#<random
 * UUID>`, unique across sessions and connections. Delivery tags restart per channel and
 * RabbitMQ stamps nothing on a message, so no id derived from the delivery would be both unique and
 * stable; the adapter keeps this one across its own retries (the retried copy carries it as `message_id`).
 */
export function generatedId(source: string): string {
  return `${source}#${randomUUID()}`;
}

/**
 * How many times the broker gave this copy of a message out before: a quorum queue counts returns in
 * `x-delivery-count` (every requeue: a dead channel or connection, a release on close), a classic queue
 * only flags the redelivery, which counts as one. The count is used only on a redelivered message, so a
 * header a foreign publisher set on a fresh message changes nothing.
 */
export function redeliveries(redelivered: boolean, deliveryCount: unknown): number {
  if (!redelivered) return 0;
  return typeof deliveryCount === 'number' && Number.isInteger(deliveryCount) && deliveryCount > 1 ? deliveryCount : 1;
}

/**
 * Turns an amqplib message into the pieces of a Delivery. `fallbackId` is the id of a message
 * without `message_id` (see {@link generatedId}); a function is called only for such a message.
 */
export function decodeMessage(msg: Message, fallbackId: string | (() => string)): DecodedMessage {
  const p = msg.properties;
  const raw = p.headers as Record<string, unknown> | undefined;
  const headers: Headers = {};
  let attempt = 1;
  let sentAt: number | undefined;
  let key: string | undefined;
  let longId: string | undefined;
  if (raw !== undefined) {
    for (const k in raw) {
      if (!Object.hasOwn(raw, k)) continue;
      const v = raw[k];
      if (INTERNAL.has(k)) {
        if (k === HEADERS.attempt) {
          const carried = Number(headerText(v) ?? '1');
          if (Number.isInteger(carried) && carried >= 1) attempt = carried;
        } else if (k === SENT_AT) sentAt = Number(headerText(v) ?? NaN) || undefined;
        else if (k === HEADERS.key) key = headerText(v);
        else if (k === HEADERS.messageId) longId = headerText(v);
        continue;
      }
      if (BROKER.test(k)) continue;
      headers[k] = renderHeaderValue(v);
    }
  }
  const ts = sentAt ?? (typeof p.timestamp === 'number' ? p.timestamp * 1000 : Date.now());
  return {
    id: nonEmpty(headerText(p.messageId)) ?? nonEmpty(longId) ?? (typeof fallbackId === 'string' ? fallbackId : fallbackId()),
    body: new Uint8Array(msg.content.buffer, msg.content.byteOffset, msg.content.byteLength),
    key,
    headers,
    attempt: attempt + redeliveries(msg.fields.redelivered, raw?.['x-delivery-count']),
    timestamp: new Date(ts),
    replyTo: headerText(p.replyTo),
    correlationId: headerText(p.correlationId),
  };
}

/** The size amqplib's `encodeFieldValue` gives a value inside a field table (tag byte included). */
export function encodedValueSize(value: unknown): number {
  let v = value;
  let type: string = typeof value;
  if (v !== null && type === 'object' && Object.hasOwn(v as object, '!')) {
    type = String((v as Record<string, unknown>)['!']);
    v = (v as Record<string, unknown>).value;
  }
  switch (type) {
    case 'string':
      return 1 + 4 + Buffer.byteLength(v as string, 'utf8');
    case 'number': {
      const n = v as number;
      const floating = n >= 0x8000000000000000 || (Math.abs(n) < 0x4000000000000 && Math.floor(n) !== n);
      if (floating) return 1 + 8;
      if (n < 128 && n >= -128) return 1 + 1;
      if (n >= -0x8000 && n < 0x8000) return 1 + 2;
      if (n >= -0x80000000 && n < 0x80000000) return 1 + 4;
      return 1 + 8;
    }
    case 'boolean':
    case 'byte':
    case 'int8':
    case 'uint8':
      return 1 + 1;
    case 'short':
    case 'int16':
    case 'uint16':
      return 1 + 2;
    case 'int':
    case 'int32':
    case 'uint32':
    case 'float':
      return 1 + 4;
    case 'long':
    case 'int64':
    case 'uint64':
    case 'double':
    case 'float64':
    case 'timestamp':
    case 'bigint':
      return 1 + 8;
    case 'decimal':
      return 1 + 5;
    case 'object': {
      if (v === null) return 1;
      if (Array.isArray(v)) return 1 + 4 + v.reduce((s: number, x) => s + encodedValueSize(x), 0);
      if (Buffer.isBuffer(v)) return 1 + 4 + v.length;
      return 1 + encodedTableSize(v as Record<string, unknown>);
    }
    default:
      // Anything else amqplib would refuse or write as a long string: count it generously.
      return 1 + 4 + Buffer.byteLength(String(v), 'utf8');
  }
}

/** The size amqplib's `encodeTable` gives a field table: a 4-byte length, then per entry a short-string key and a tagged value. */
export function encodedTableSize(table: Record<string, unknown>): number {
  let n = 4;
  for (const k in table) {
    const v = table[k];
    if (v === undefined) continue;
    n += 1 + Buffer.byteLength(k, 'utf8') + encodedValueSize(v);
  }
  return n;
}

/** Bytes of the basic properties amqplib writes into a content header frame, headers table included. */
export function encodedPropertiesSize(o: Options.Publish): number {
  let n = 0;
  const short = (s: unknown) => (typeof s === 'string' ? 1 + Buffer.byteLength(s, 'utf8') : 0);
  n += short(o.contentType) + short(o.contentEncoding);
  if (o.headers !== undefined) n += encodedTableSize(o.headers as Record<string, unknown>);
  if (o.persistent !== undefined || o.deliveryMode !== undefined) n += 1;
  if (o.priority !== undefined) n += 1;
  n += short(o.correlationId) + short(o.replyTo) + short(o.expiration === undefined ? undefined : String(o.expiration)) + short(o.messageId);
  if (o.timestamp !== undefined) n += 8;
  n += short(o.type) + short(o.userId) + short(o.appId);
  return n;
}

/**
 * The largest encoded headers table a message with these properties may carry: amqplib's 64 KiB
 * table buffer, or less when the whole content header frame would not fit `frameMax`.
 */
export function headerTableLimit(o: Options.Publish, frameMax: number): number {
  const others = encodedPropertiesSize({ ...o, headers: undefined });
  return Math.min(AMQPLIB_TABLE_BUFFER, frameMax - HEADER_FRAME_OVERHEAD - others);
}

/**
 * Throws before anything is sent when a message cannot go out as it is: a header name longer than an
 * AMQP short string (`invalid_argument`), or headers whose encoded field table exceeds what amqplib
 * and the connection's `frameMax` take, minus {@link HEADER_RESERVE} (`payload_too_large`, with the
 * encoded size and the limit). Sizes are counted as amqplib encodes them, for the headers
 * {@link publishOptions} sends with the same `stamp`.
 */
export function assertSendable(m: NormalizedMessage, index: number, frameMax: number, stamp = true, sharded = false): void {
  let size = 4;
  for (const k in m.headers) {
    const v = m.headers[k];
    if (v === undefined) continue;
    const n = Buffer.byteLength(k, 'utf8');
    if (n > SHORTSTR_MAX) {
      throw new SwitchboardError('invalid_argument', `message ${index} (id ${m.id.slice(0, 100)}): header name "${k.slice(0, 40)}…" is ${n} bytes; AMQP header names are short strings of at most ${SHORTSTR_MAX} bytes`, {
        details: { index, header: k.slice(0, 300), size: n, limit: SHORTSTR_MAX },
      });
    }
    size += 1 + n + encodedValueSize(v);
  }
  // What publishOptions adds (counted without building it: this runs for every message sent).
  const idBytes = Buffer.byteLength(m.id, 'utf8');
  const longId = idBytes > SHORTSTR_MAX;
  if (stamp) size += 1 + SENT_AT.length + 1 + 4 + String(Date.now()).length;
  if (m.key !== undefined) size += 1 + HEADERS.key.length + 1 + 4 + Buffer.byteLength(m.key, 'utf8');
  // sb-shard of a partitioned topic: at most three digits (MAX_PARTITIONS is 256).
  if (sharded) size += 1 + SHARD_HEADER.length + 1 + 4 + 3;
  if (longId) size += 1 + HEADERS.messageId.length + 1 + 4 + idBytes;
  // Besides the table: delivery-mode (1), timestamp (8), message-id when it fits a short string.
  const others = 1 + 8 + (longId ? 0 : 1 + idBytes);
  const hard = Math.min(AMQPLIB_TABLE_BUFFER, frameMax - HEADER_FRAME_OVERHEAD - others);
  const limit = hard - HEADER_RESERVE;
  if (size > limit) {
    throw new SwitchboardError(
      'payload_too_large',
      `message ${index} (id ${m.id.slice(0, 100)}): its headers encode to ${size} bytes (AMQP field table, with the key and the adapter's own headers); ` +
        `RabbitMQ takes at most ${limit} here (amqplib's ${AMQPLIB_TABLE_BUFFER}-byte header buffer and frame_max ${frameMax} allow ${hard}, ` +
        `${HEADER_RESERVE} are kept for retry and dead-letter headers). Move large values into the body`,
      { details: { index, size, limit, frameMax, what: 'headers' } },
    );
  }
}

/**
 * A copy the adapter republishes (retry, dead letter) must still fit amqplib's header buffer and
 * `frameMax`: when its headers are too big, the dead-letter reason is cut further (marked with "…");
 * anything else is left for amqplib to refuse. Sends keep {@link HEADER_RESERVE} free, so this only
 * cuts long reasons on messages near the limit.
 */
export function fitHeaders(o: Options.Publish, frameMax: number): Options.Publish {
  const headers = o.headers as Record<string, unknown> | undefined;
  const reason = headers?.[HEADERS.deadLetterReason];
  if (!headers || typeof reason !== 'string') return o;
  const excess = encodedTableSize(headers) - headerTableLimit(o, frameMax);
  if (excess <= 0) return o;
  const keep = Math.max(0, Buffer.byteLength(reason, 'utf8') - excess - 3);
  let cut = Buffer.from(reason, 'utf8').subarray(0, keep).toString('utf8');
  while (Buffer.byteLength(cut, 'utf8') > keep) cut = cut.slice(0, -1);
  return { ...o, headers: { ...headers, [HEADERS.deadLetterReason]: `${cut}…` } };
}
