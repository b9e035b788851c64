import { HEADERS, type Headers } from '@switchboard/core';
import type { NormalizedMessage } from '@switchboard/core/driver';
import type { IHeaders, KafkaMessage, Message } from 'kafkajs';

/** Internal headers of this adapter, beyond core's HEADERS. */
export const KAFKA_HEADERS = {
  /** Where a retried record first came from: `<topic>`. */
  originTopic: 'sb-origin-topic',
  /** Its `<partition>:<offset>` there. */
  originRef: 'sb-origin-ref',
  /** Its timestamp there (ms), for its `Delivery.position`. */
  originTimestamp: 'sb-origin-timestamp',
} as const;

/** Headers that carry Switchboard's own metadata and are not shown as application headers. */
const INTERNAL = new Set<string>([
  HEADERS.messageId,
  HEADERS.attempt,
  HEADERS.notBefore,
  HEADERS.replyTo,
  HEADERS.correlationId,
  HEADERS.key,
  KAFKA_HEADERS.originTopic,
  KAFKA_HEADERS.originRef,
  KAFKA_HEADERS.originTimestamp,
]);

/** A fetched record, decoded once: one object per record, with nothing copied from the fetch buffer. */
export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string | undefined;
  /** A view of the record value in kafkajs's fetch buffer (not a copy). */
  readonly value: Uint8Array;
  /** Application headers (internal ones removed). A name that occurs more than once keeps its last value, as the Java client's `lastHeader`. */
  readonly headers: Headers;
  readonly id: string;
  readonly attempt: number;
  readonly notBefore: number | undefined;
  readonly timestamp: Date;
  readonly replyTo: string | undefined;
  readonly correlationId: string | undefined;
  /** Topic and `<partition>:<offset>` of the record's first append (differs for retries). */
  readonly originTopic: string;
  readonly originRef: string;
  /** Timestamp (ms) of that first append; undefined for a retry appended without it. */
  readonly originTimestamp: number | undefined;
}

/**
 * A header value as text: a Buffer as UTF-8. kafkajs gives a name that occurs more than once in a
 * record as an array of its values; Switchboard takes the last one, like the Java client's
 * `Headers.lastHeader` (the usual way Kafka code reads a header).
 */
export function headerText(v: IHeaders[string]): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return headerText(v[v.length - 1]);
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

export function decodeHeaders(h: IHeaders | undefined): Headers {
  const out: Headers = {};
  if (!h) return out;
  for (const k in h) {
    const t = headerText(h[k]);
    if (t !== undefined) out[k] = t;
  }
  return out;
}

/** Removes this adapter's internal headers. */
export function applicationHeaders(h: Headers): Headers {
  const out: Headers = {};
  for (const k in h) if (!INTERNAL.has(k)) out[k] = h[k]!;
  return out;
}

function optionalNumber(v: string | undefined): number | undefined {
  const n = v === undefined ? NaN : Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The id of a record without `sb-message-id` (a foreign producer's): `<topic>:<partition>:<offset>@<timestamp ms>`.
 * ":" and "@" never occur in topic names, so two positions never share an id. The same record has
 * the same id in every group and on every redelivery (a retry copy carries it in `sb-message-id`).
 * The record's timestamp tells apart two records at the same offset of a topic that was deleted
 * and created again (offsets restart at 0); only a foreign producer that sets the same explicit
 * timestamp on both could make them collide.
 */
export function foreignId(topic: string, partition: number, offset: number | string, timestamp: string): string {
  return `${topic}:${partition}:${offset}@${timestamp}`;
}

/** A shared empty body: a record without a value allocates nothing for it. */
const EMPTY = new Uint8Array(0);

/**
 * Decodes a fetched record in one pass over its headers: internal headers go to their fields,
 * the others to one application header map. The value is a view of kafkajs's buffer, not a copy
 * (kafkajs hands each record its own slice and never reuses it).
 */
export function decodeRecord(topic: string, partition: number, m: KafkaMessage): KafkaRecord {
  const headers: Headers = {};
  let id: string | undefined;
  let attempt: string | undefined;
  let notBefore: string | undefined;
  let replyTo: string | undefined;
  let correlationId: string | undefined;
  let originTopic: string | undefined;
  let originRef: string | undefined;
  let originTs: string | undefined;
  const h = m.headers;
  if (h) {
    for (const k in h) {
      const t = headerText(h[k]);
      if (t === undefined) continue;
      if (!k.startsWith('sb-') || !INTERNAL.has(k)) headers[k] = t;
      else if (k === HEADERS.messageId) id = t;
      else if (k === HEADERS.attempt) attempt = t;
      else if (k === HEADERS.notBefore) notBefore = t;
      else if (k === HEADERS.replyTo) replyTo = t;
      else if (k === HEADERS.correlationId) correlationId = t;
      else if (k === KAFKA_HEADERS.originTopic) originTopic = t;
      else if (k === KAFKA_HEADERS.originRef) originRef = t;
      else if (k === KAFKA_HEADERS.originTimestamp) originTs = t;
    }
  }
  const offset = Number(m.offset);
  const n = attempt === undefined ? 1 : Number(attempt);
  const nb = notBefore === undefined ? undefined : Number(notBefore);
  const v = m.value;
  const ts = Number(m.timestamp);
  return {
    topic,
    partition,
    offset,
    key: m.key === null || m.key === undefined ? undefined : m.key.toString('utf8'),
    value: v ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : EMPTY,
    headers,
    id: id ?? foreignId(topic, partition, offset, m.timestamp),
    attempt: Number.isInteger(n) && n > 0 ? n : 1,
    notBefore: nb !== undefined && Number.isFinite(nb) ? nb : undefined,
    timestamp: new Date(ts),
    replyTo,
    correlationId,
    originTopic: originTopic ?? topic,
    originRef: originRef ?? `${partition}:${offset}`,
    originTimestamp: originRef === undefined ? ts : optionalNumber(originTs),
  };
}

/** A message on its way to Kafka: partition chosen, headers encoded, size counted for batching. */
export interface EncodedRecord {
  readonly partition: number;
  readonly size: number;
  readonly message: Message;
  /**
   * Set when the broker names the message (no `sb-message-id`): the timestamp it is sent with, from
   * which, with its offset, the send learns the id every delivery of it will carry ({@link foreignId}).
   */
  readonly stamp?: string;
}

/** UTF-8 length of an ASCII-only string without scanning it twice: Buffer.byteLength otherwise. */
const byteLength = (s: string): number => Buffer.byteLength(s);

/**
 * Encodes a normalized message for `partition`: its headers, `sb-message-id` (the id core gave
 * the message and put in its receipt; it is the only header a plain send adds), and `extra`.
 * The value is a view of the body, not a copy. With `stamp` the broker names the message: it goes
 * without `sb-message-id` and with `stamp` as its timestamp, so that its id is {@link foreignId}'s
 * (a kafkajs header costs about as much again as the rest of a small record, on both sides).
 */
export function encodeRecord(m: NormalizedMessage, partition: number, extra?: Record<string, string>, stamp?: string): EncodedRecord {
  const headers: Record<string, string> = {};
  let size = 0;
  for (const k in m.headers) {
    const v = m.headers[k]!;
    headers[k] = v;
    size += byteLength(k) + byteLength(v) + 2;
  }
  if (stamp === undefined) {
    headers[HEADERS.messageId] = m.id;
    size += ID_HEADER_BYTES + byteLength(m.id);
  }
  if (extra) {
    for (const k in extra) {
      const v = extra[k]!;
      headers[k] = v;
      size += byteLength(k) + byteLength(v) + 2;
    }
  }
  const value = Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength);
  size += value.byteLength + (m.key ? byteLength(m.key) : 0);
  if (stamp === undefined) return { partition, size, message: { key: m.key ?? null, value, headers, partition } };
  return { partition, size, message: { key: m.key ?? null, value, headers, partition, timestamp: stamp }, stamp };
}

const ID_HEADER_BYTES = Buffer.byteLength(HEADERS.messageId) + 2;
