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

/** A fetched record, decoded once. */
export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string | undefined;
  readonly value: Uint8Array;
  /** Every header as a string (a name that occurs more than once keeps its last value, as the Java client's `lastHeader`). */
  readonly rawHeaders: Headers;
  /** Application headers (internal ones removed). */
  readonly headers: Headers;
  readonly id: string;
  readonly attempt: number;
  readonly notBefore: number | undefined;
  readonly timestamp: Date;
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
  for (const [k, v] of Object.entries(h)) {
    const t = headerText(v);
    if (t !== undefined) out[k] = t;
  }
  return out;
}

/** Removes this adapter's internal headers. */
export function applicationHeaders(h: Headers): Headers {
  const out: Headers = {};
  for (const [k, v] of Object.entries(h)) if (!INTERNAL.has(k)) out[k] = v;
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

export function decodeRecord(topic: string, partition: number, m: KafkaMessage): KafkaRecord {
  const raw = decodeHeaders(m.headers);
  const offset = Number(m.offset);
  const attempt = Number(raw[HEADERS.attempt] ?? '1');
  const nb = raw[HEADERS.notBefore] === undefined ? undefined : Number(raw[HEADERS.notBefore]);
  return {
    topic,
    partition,
    offset,
    key: m.key === null || m.key === undefined ? undefined : m.key.toString('utf8'),
    value: m.value ? new Uint8Array(m.value) : new Uint8Array(0),
    rawHeaders: raw,
    headers: applicationHeaders(raw),
    id: raw[HEADERS.messageId] ?? foreignId(topic, partition, offset, m.timestamp),
    attempt: Number.isInteger(attempt) && attempt > 0 ? attempt : 1,
    notBefore: nb !== undefined && Number.isFinite(nb) ? nb : undefined,
    timestamp: new Date(Number(m.timestamp)),
    originTopic: raw[KAFKA_HEADERS.originTopic] ?? topic,
    originRef: raw[KAFKA_HEADERS.originRef] ?? `${partition}:${offset}`,
    originTimestamp: raw[KAFKA_HEADERS.originRef] === undefined ? Number(m.timestamp) : optionalNumber(raw[KAFKA_HEADERS.originTimestamp]),
  };
}

/** A message on its way to Kafka: partition chosen, headers encoded, size counted for batching. */
export interface EncodedRecord {
  readonly partition: number;
  readonly size: number;
  readonly message: Message;
}

/** Encodes a normalized message for `partition`, with the message id and `extra` headers added. */
export function encodeRecord(m: NormalizedMessage, partition: number, extra: Record<string, string>): EncodedRecord {
  const headers: Record<string, string> = { ...m.headers, [HEADERS.messageId]: m.id, ...extra };
  const value = Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength);
  let size = value.byteLength + (m.key ? Buffer.byteLength(m.key) : 0);
  for (const [k, v] of Object.entries(headers)) size += Buffer.byteLength(k) + Buffer.byteLength(v) + 2;
  return { partition, size, message: { key: m.key ?? null, value, headers, partition } };
}
