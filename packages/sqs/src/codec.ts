import { SwitchboardError, type Headers } from '@switchboard/core';
import type { NormalizedMessage } from '@switchboard/core/driver';

/** The one message attribute Switchboard writes: JSON of its own metadata (see {@link SqsMeta}). */
export const META_ATTRIBUTE = 'sb';
/** SQS and SNS carry at most 10 message attributes; one is {@link META_ATTRIBUTE}. */
export const MAX_ATTRIBUTES = 10;
/** Application headers per message: the attribute limit minus Switchboard's metadata attribute. */
export const MAX_HEADERS = MAX_ATTRIBUTES - 1;
/** SQS (classic limit) and SNS publish limit, body plus attribute names, types and values. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 262_144;

/**
 * Switchboard's metadata, packed into the single `sb` string attribute so it costs one of the ten
 * attributes: message id, key, reply-to, correlation id, body encoding, earliest delivery time,
 * and headers that cannot be SQS attributes (Switchboard's own `sb-*` headers such as the
 * dead-letter ones, names SQS rejects, empty values or characters SQS does not allow).
 */
export interface SqsMeta {
  /** message id */
  i: string;
  /** key */
  k?: string;
  /** reply-to (a queue name) */
  r?: string;
  /** correlation id */
  c?: string;
  /** body encoding: base64 (non-UTF-8 bytes) or empty (SQS bodies must not be empty) */
  e?: 'b64' | 'empty';
  /** not before (ms since epoch), for delays SQS cannot express natively */
  n?: number;
  /** headers carried inside the metadata */
  h?: Headers;
}

/** An SQS/SNS message attribute as both SDKs take it. */
export interface StringAttribute {
  DataType: 'String';
  StringValue: string;
}

export interface EncodedMessage {
  readonly body: string;
  readonly attributes: Record<string, StringAttribute>;
  /** Bytes as SQS and SNS count them: body + attribute names, data types and values. */
  readonly size: number;
}

export interface EncodeExtras {
  replyTo?: string | undefined;
  correlationId?: string | undefined;
  notBefore?: number | undefined;
}

// Characters SQS accepts in bodies and attribute values.
const SQS_TEXT = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;
// Attribute names: letters, digits, `_`, `-`, `.`; no leading/trailing or doubled periods; not AWS./Amazon.; at most 256.
const ATTRIBUTE_NAME = /^[A-Za-z0-9_-](?:[A-Za-z0-9_.-]{0,254}[A-Za-z0-9_-])?$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** Whether `name` can travel as an SQS/SNS message attribute of its own. */
export function isAttributeName(name: string): boolean {
  return ATTRIBUTE_NAME.test(name) && !name.includes('..') && !/^(aws|amazon)\./i.test(name) && name !== META_ATTRIBUTE;
}

function isAttributeValue(value: string): boolean {
  return value.length > 0 && SQS_TEXT.test(value);
}

/** Headers Switchboard writes itself (sb-*): packed into the metadata, never counted against the application's nine. */
function isInternalHeader(name: string): boolean {
  return name.startsWith('sb-');
}

/** Body as SQS text: UTF-8 text as is; other bytes (or text SQS refuses) base64 with a marker; empty as a marker. */
export function encodeBody(body: Uint8Array): { text: string; encoding: SqsMeta['e'] } {
  if (body.byteLength === 0) return { text: '-', encoding: 'empty' };
  let text: string | undefined;
  try {
    text = strictUtf8.decode(body);
  } catch {
    text = undefined;
  }
  if (text !== undefined && SQS_TEXT.test(text)) return { text, encoding: undefined };
  return { text: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64'), encoding: 'b64' };
}

export function decodeBody(text: string, encoding: SqsMeta['e']): Uint8Array {
  if (encoding === 'empty') return new Uint8Array(0);
  if (encoding === 'b64') return new Uint8Array(Buffer.from(text, 'base64'));
  return encoder.encode(text);
}

/**
 * Encodes a message for SendMessage / Publish. Application headers become string attributes (at
 * most {@link MAX_HEADERS}: more is an `invalid_argument` error, never a silent drop); the rest of
 * the metadata goes into the `sb` attribute.
 */
export function encodeMessage(m: NormalizedMessage, extras: EncodeExtras = {}, index = 0): EncodedMessage {
  const appHeaders = Object.keys(m.headers).filter((k) => !isInternalHeader(k));
  if (appHeaders.length > MAX_HEADERS) {
    throw new SwitchboardError(
      'invalid_argument',
      `message ${index} (id ${m.id}) has ${appHeaders.length} headers; SQS/SNS carry at most ${MAX_ATTRIBUTES} message attributes and Switchboard uses one, so at most ${MAX_HEADERS} headers`,
      { details: { headers: appHeaders.length, limit: MAX_HEADERS, index } },
    );
  }
  const { text, encoding } = encodeBody(m.body);
  const meta: SqsMeta = { i: m.id };
  if (m.key !== undefined) meta.k = m.key;
  if (extras.replyTo !== undefined) meta.r = extras.replyTo;
  if (extras.correlationId !== undefined) meta.c = extras.correlationId;
  if (encoding) meta.e = encoding;
  if (extras.notBefore !== undefined) meta.n = extras.notBefore;
  const attributes: Record<string, StringAttribute> = {};
  const packed: Headers = {};
  for (const [k, v] of Object.entries(m.headers)) {
    if (!isInternalHeader(k) && isAttributeName(k) && isAttributeValue(v)) attributes[k] = { DataType: 'String', StringValue: v };
    else packed[k] = v;
  }
  if (Object.keys(packed).length) meta.h = packed;
  attributes[META_ATTRIBUTE] = { DataType: 'String', StringValue: JSON.stringify(meta) };
  let size = Buffer.byteLength(text);
  for (const [k, a] of Object.entries(attributes)) size += Buffer.byteLength(k) + a.DataType.length + Buffer.byteLength(a.StringValue);
  return { body: text, attributes, size };
}

/** Throws `payload_too_large` when an encoded message is over the limit; nothing is sent. */
export function assertEncodedSize(e: EncodedMessage, limit: number, index: number, id: string, what: string): void {
  if (e.size > limit) {
    throw new SwitchboardError(
      'payload_too_large',
      `message ${index} (id ${id}) is ${e.size} bytes as ${what} counts it (encoded body plus attribute names, types and values); ${what} accepts at most ${limit}`,
      { details: { size: e.size, limit, index } },
    );
  }
}

/** The fields of a received message that matter to decoding. */
export interface RawMessage {
  MessageId?: string | undefined;
  Body?: string | undefined;
  MessageAttributes?: Record<string, { DataType?: string | undefined; StringValue?: string | undefined; BinaryValue?: Uint8Array | undefined }> | undefined;
  Attributes?: Partial<Record<string, string>> | undefined;
}

export interface DecodedMessage {
  id: string;
  body: Uint8Array;
  key: string | undefined;
  headers: Headers;
  replyTo: string | undefined;
  correlationId: string | undefined;
  notBefore: number | undefined;
}

/**
 * Decodes a received message. Messages that did not come from Switchboard (no `sb` attribute)
 * decode too: the SQS MessageId is the id, the body is its UTF-8 text, string and number
 * attributes are the headers, the FIFO MessageGroupId is the key.
 */
export function decodeMessage(raw: RawMessage): DecodedMessage {
  const attrs = raw.MessageAttributes ?? {};
  let meta: SqsMeta | undefined;
  const metaText = attrs[META_ATTRIBUTE]?.StringValue;
  if (metaText !== undefined) {
    try {
      const parsed = JSON.parse(metaText) as unknown;
      if (parsed && typeof parsed === 'object' && typeof (parsed as SqsMeta).i === 'string') meta = parsed as SqsMeta;
    } catch {
      meta = undefined;
    }
  }
  const headers: Headers = {};
  for (const [k, a] of Object.entries(attrs)) {
    if (k === META_ATTRIBUTE && meta) continue;
    if (a.StringValue !== undefined) headers[k] = a.StringValue;
    else if (a.BinaryValue !== undefined) headers[k] = Buffer.from(a.BinaryValue).toString('base64');
  }
  if (meta?.h) Object.assign(headers, meta.h);
  return {
    id: meta?.i ?? raw.MessageId ?? '',
    body: decodeBody(raw.Body ?? '', meta?.e),
    key: meta ? meta.k : raw.Attributes?.MessageGroupId,
    headers,
    replyTo: meta?.r,
    correlationId: meta?.c,
    notBefore: typeof meta?.n === 'number' ? meta.n : undefined,
  };
}
