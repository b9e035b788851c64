import { HEADERS, type Headers } from '@switchboard/core';
import type { NormalizedMessage } from '@switchboard/core/driver';
import type { Message, Options } from 'amqplib';

/** Headers the adapter writes for itself; they never reach the application's `headers`. */
const INTERNAL = new Set<string>([HEADERS.attempt, HEADERS.key, HEADERS.messageId, HEADERS.notBefore, 'sb-ts']);
/** Send time in ms (AMQP's timestamp property has second precision); used for stream replay by timestamp. */
export const SENT_AT = 'sb-ts';
/** Headers RabbitMQ adds (dead-lettering, quorum queues, streams). */
const BROKER = /^x-(death|first-death-.*|last-death-.*|delivery-count|stream-.*|opt-.*|received-from)$/;

/** Publish properties of an outgoing message: persistent, with its id, key and attempt carried in properties/headers. */
export function publishOptions(m: NormalizedMessage, extra: { attempt?: number; replyTo?: string; correlationId?: string; expiration?: number } = {}): Options.Publish {
  const now = Date.now();
  const headers: Record<string, string | number> = { ...m.headers, [SENT_AT]: String(now) };
  if (m.key !== undefined) headers[HEADERS.key] = m.key;
  if (extra.attempt !== undefined && extra.attempt > 1) headers[HEADERS.attempt] = String(extra.attempt);
  const o: Options.Publish = {
    persistent: true,
    messageId: m.id,
    timestamp: Math.floor(now / 1000),
    headers,
  };
  if (extra.replyTo !== undefined) o.replyTo = extra.replyTo;
  if (extra.correlationId !== undefined) o.correlationId = extra.correlationId;
  if (extra.expiration !== undefined) o.expiration = String(extra.expiration);
  return o;
}

/** Properties to republish a received message with (retry, delay, dead letter): broker headers dropped, attempt replaced. */
export function republishOptions(msg: Message, attempt: number, extraHeaders: Record<string, string> = {}): Options.Publish {
  const raw = msg.properties.headers ?? {};
  const headers: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (!BROKER.test(k) && k !== HEADERS.attempt) headers[k] = v;
  if (attempt > 1) headers[HEADERS.attempt] = String(attempt);
  Object.assign(headers, extraHeaders);
  const p = msg.properties;
  const o: Options.Publish = { persistent: true, headers };
  if (p.messageId !== undefined) o.messageId = p.messageId;
  if (p.correlationId !== undefined) o.correlationId = p.correlationId;
  if (p.replyTo !== undefined) o.replyTo = p.replyTo;
  if (p.timestamp !== undefined) o.timestamp = p.timestamp;
  if (p.contentType !== undefined) o.contentType = p.contentType;
  if (p.type !== undefined) o.type = p.type;
  return o;
}

function headerText(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

export interface DecodedMessage {
  id: string;
  body: Uint8Array;
  key: string | undefined;
  headers: Headers;
  /** The attempt carried in the message (1 when absent), plus one when the broker redelivered it. */
  attempt: number;
  timestamp: Date;
  replyTo: string | undefined;
  correlationId: string | undefined;
}

/** Turns an amqplib message into the pieces of a Delivery. */
export function decodeMessage(msg: Message, fallbackId: string): DecodedMessage {
  const raw = msg.properties.headers ?? {};
  const headers: Headers = {};
  for (const [k, v] of Object.entries(raw)) {
    if (INTERNAL.has(k) || BROKER.test(k)) continue;
    const t = headerText(v);
    if (t !== undefined) headers[k] = t;
  }
  const carried = Number(headerText(raw[HEADERS.attempt]) ?? '1');
  const base = Number.isInteger(carried) && carried >= 1 ? carried : 1;
  const ts = Number(headerText(raw[SENT_AT]) ?? NaN) || (typeof msg.properties.timestamp === 'number' ? msg.properties.timestamp * 1000 : Date.now());
  const p = msg.properties;
  return {
    id: headerText(p.messageId) ?? headerText(raw[HEADERS.messageId]) ?? fallbackId,
    body: new Uint8Array(msg.content.buffer, msg.content.byteOffset, msg.content.byteLength),
    key: headerText(raw[HEADERS.key]),
    headers,
    attempt: base + (msg.fields.redelivered ? 1 : 0),
    timestamp: new Date(ts),
    replyTo: headerText(p.replyTo),
    correlationId: headerText(p.correlationId),
  };
}
