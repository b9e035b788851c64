import { HEADERS, SwitchboardError, type Headers } from '@switchboard/core';
import type { NormalizedMessage } from '@switchboard/core/driver';
import { fifoToken } from './names';

/**
 * The overflow attribute: JSON of the Switchboard metadata that did not fit in attributes of its own
 * (see {@link SqsMeta}). Older versions wrote all their metadata there; it is still read.
 */
export const META_ATTRIBUTE = 'sb';
/** SQS and SNS carry at most 10 message attributes. */
export const MAX_ATTRIBUTES = 10;
/** Application headers per message: one attribute is kept for the message id (or the `sb` overflow). */
export const MAX_HEADERS = MAX_ATTRIBUTES - 1;
/** SQS (classic limit) and SNS publish limit, body plus attribute names, types and values. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 262_144;

/**
 * Switchboard's own String message attributes (the wire format, see the README's "Wire format"):
 * each travels as an attribute of its own while the 10-attribute limit allows, else inside
 * {@link META_ATTRIBUTE}.
 */
export const WIRE = {
  /** The message id (Switchboard's, or the one a foreign producer sets). */
  id: HEADERS.messageId,
  key: HEADERS.key,
  /** The reply queue of a request: a queue name, or a queue URL. */
  replyTo: HEADERS.replyTo,
  correlationId: HEADERS.correlationId,
  /** `base64` (the body is base64 of bytes that are not SQS text) or `empty` (the body `-` stands for no bytes). */
  bodyEncoding: 'sb-body-encoding',
  /** Earliest delivery time, ms since the epoch (delays SQS cannot express natively). */
  notBefore: HEADERS.notBefore,
  /** Comma-separated names of headers whose value is empty (SQS refuses empty attribute values). */
  emptyHeaders: 'sb-empty-headers',
} as const;

const WIRE_NAMES: ReadonlySet<string> = new Set([...Object.values(WIRE), META_ATTRIBUTE]);

/** Marks a header value rendered from a Binary attribute: `base64:<base64 of the bytes>`. */
export const BINARY_MARKER = 'base64:';

/**
 * The `sb` overflow attribute (JSON): what did not fit in attributes of its own. Older versions
 * wrote every field here (`i` always); now each field is present only when it overflowed.
 */
export interface SqsMeta {
  /** message id */
  i?: string;
  /** key */
  k?: string;
  /** reply-to (a queue name or URL) */
  r?: string;
  /** correlation id */
  c?: string;
  /** body encoding: base64 (non-UTF-8 bytes) or empty (SQS bodies must not be empty) */
  e?: 'b64' | 'empty';
  /** not before (ms since epoch), for delays SQS cannot express natively */
  n?: number;
  /** headers that cannot be (or did not fit as) attributes: invalid names, characters SQS refuses, empty values, sb-* overflow */
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
 * Encodes a message for SendMessage / Publish (the README's "Wire format"):
 * - application headers are String attributes of their own (at most {@link MAX_HEADERS}: more is
 *   `invalid_argument`, never a silent drop); an empty value is listed in `sb-empty-headers`;
 * - the id, key, reply-to, correlation id, body encoding and delay are `sb-*` String attributes, in
 *   that order of priority, as long as the 10-attribute limit allows; with Switchboard's own `sb-*`
 *   headers (dead letters) after them;
 * - whatever does not fit, and headers SQS cannot carry as attributes (names it refuses, characters
 *   it does not allow), goes into the one `sb` attribute (JSON, {@link SqsMeta}).
 */
export function encodeMessage(m: NormalizedMessage, extras: EncodeExtras = {}, index = 0): EncodedMessage {
  const appHeaders = Object.keys(m.headers).filter((k) => !isInternalHeader(k));
  if (appHeaders.length > MAX_HEADERS) {
    throw new SwitchboardError(
      'invalid_argument',
      `message ${index} (id ${m.id}) has ${appHeaders.length} headers; SQS/SNS carry at most ${MAX_ATTRIBUTES} message attributes and Switchboard keeps one for the message id, so at most ${MAX_HEADERS} headers`,
      { details: { headers: appHeaders.length, limit: MAX_HEADERS, index } },
    );
  }
  const { text, encoding } = encodeBody(m.body);
  const attributes: Record<string, StringAttribute> = {};
  const overflow: Headers = {};
  const empty: string[] = [];
  const internal: [string, string][] = [];
  for (const [k, v] of Object.entries(m.headers)) {
    if (isInternalHeader(k)) {
      if (!WIRE_NAMES.has(k) && isAttributeName(k) && isAttributeValue(v)) internal.push([k, v]);
      else overflow[k] = v;
    } else if (isAttributeName(k) && isAttributeValue(v)) attributes[k] = { DataType: 'String', StringValue: v };
    else if (isAttributeName(k) && v === '' && !k.includes(',')) empty.push(k);
    else overflow[k] = v;
  }
  // Switchboard's fields, most important first; each goes to the overflow when it has no room.
  const fields: { name: string; value: string; spill(meta: SqsMeta): void }[] = [];
  const field = (name: string, value: string | undefined, spill: (meta: SqsMeta) => void) => {
    if (value !== undefined) fields.push({ name, value, spill });
  };
  field(WIRE.id, m.id, (meta) => (meta.i = m.id));
  field(WIRE.key, m.key, (meta) => (meta.k = m.key));
  field(WIRE.replyTo, extras.replyTo, (meta) => (meta.r = extras.replyTo));
  field(WIRE.correlationId, extras.correlationId, (meta) => (meta.c = extras.correlationId));
  field(WIRE.bodyEncoding, encoding === 'b64' ? 'base64' : encoding, (meta) => (meta.e = encoding));
  field(WIRE.notBefore, extras.notBefore === undefined ? undefined : String(extras.notBefore), (meta) => (meta.n = extras.notBefore));
  field(WIRE.emptyHeaders, empty.length ? empty.join(',') : undefined, (meta) => (meta.h = { ...meta.h, ...Object.fromEntries(empty.map((k) => [k, ''])) }));
  for (const [k, v] of internal) field(k, v, (meta) => (meta.h = { ...meta.h, [k]: v }));
  // Fields that are not valid attribute values (e.g. an id with characters SQS refuses) overflow.
  const meta: SqsMeta = {};
  const native = fields.filter((f) => {
    if (isAttributeValue(f.value)) return true;
    f.spill(meta);
    return false;
  });
  if (Object.keys(overflow).length) meta.h = { ...meta.h, ...overflow };
  let room = MAX_ATTRIBUTES - Object.keys(attributes).length;
  const needsOverflow = Object.keys(meta).length > 0 || native.length > room;
  if (needsOverflow) room -= 1;
  native.forEach((f, i) => {
    if (i < room) attributes[f.name] = { DataType: 'String', StringValue: f.value };
    else f.spill(meta);
  });
  if (needsOverflow) attributes[META_ATTRIBUTE] = { DataType: 'String', StringValue: JSON.stringify(meta) };
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

/** A message attribute as ReceiveMessage returns it. */
export interface RawAttribute {
  DataType?: string | undefined;
  StringValue?: string | undefined;
  BinaryValue?: Uint8Array | undefined;
}

/** The fields of a received message that matter to decoding. */
export interface RawMessage {
  MessageId?: string | undefined;
  Body?: string | undefined;
  MessageAttributes?: Record<string, RawAttribute> | undefined;
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

/** An SNS notification as SNS delivers it to an SQS queue without raw delivery (the envelope). */
interface SnsEnvelope {
  Type: 'Notification';
  MessageId: string;
  TopicArn: string;
  Message: string;
  MessageAttributes?: Record<string, { Type?: string; Value?: string }>;
}

/**
 * The SNS notification a group queue received (subscriptions deliver the envelope, so the SNS
 * MessageId, the same in every group, is known), or undefined for a raw message (older
 * subscriptions used raw delivery; a message with SQS attributes is raw).
 */
export function snsEnvelope(raw: RawMessage): SnsEnvelope | undefined {
  if (raw.MessageAttributes && Object.keys(raw.MessageAttributes).length > 0) return undefined;
  const body = raw.Body;
  if (!body || body[0] !== '{' || !body.includes('"Notification"')) return undefined;
  try {
    const e = JSON.parse(body) as Partial<SnsEnvelope>;
    if (e.Type === 'Notification' && typeof e.MessageId === 'string' && typeof e.TopicArn === 'string' && typeof e.Message === 'string') return e as SnsEnvelope;
  } catch {
    return undefined;
  }
  return undefined;
}

/** A received attribute as a header value: text as is (Number exact as sent), bytes as `base64:<...>`. */
function renderAttribute(a: RawAttribute): string | undefined {
  if (a.StringValue !== undefined) return a.StringValue;
  if (a.BinaryValue !== undefined) return `${BINARY_MARKER}${Buffer.from(a.BinaryValue).toString('base64')}`;
  return undefined;
}

function parseMeta(text: string | undefined): SqsMeta | undefined {
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as SqsMeta) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decodes a received message (the README's "Wire format"), from this version, from older ones (all
 * metadata in `sb`) and from clients that know nothing of Switchboard:
 * - a group queue's SNS envelope (`envelope: true`) is unwrapped: body, attributes, and the SNS
 *   MessageId as the id when no `sb-message-id` says otherwise (one id in every group);
 * - id: `sb-message-id`, else the SNS MessageId, else the SQS MessageId (stable across redeliveries);
 * - key: `sb-key`, else a FIFO MessageGroupId that is not the message's own id;
 * - headers: every other attribute (Number as sent, Binary as `base64:<...>`), the names listed in
 *   `sb-empty-headers` as empty strings, and what `sb` carries.
 */
export function decodeMessage(raw: RawMessage, options: { envelope?: boolean } = {}): DecodedMessage {
  let attrs: Record<string, RawAttribute> = raw.MessageAttributes ?? {};
  let bodyText = raw.Body ?? '';
  let snsId: string | undefined;
  const env = options.envelope ? snsEnvelope(raw) : undefined;
  if (env) {
    bodyText = env.Message;
    snsId = env.MessageId;
    attrs = {};
    for (const [k, a] of Object.entries(env.MessageAttributes ?? {})) {
      const type = a.Type ?? 'String';
      if (type.startsWith('Binary')) attrs[k] = { DataType: type, BinaryValue: Buffer.from(a.Value ?? '', 'base64') };
      else attrs[k] = { DataType: type, StringValue: a.Value ?? '' };
    }
  }
  const wire = new Map<string, string>();
  const headers: Headers = {};
  let meta = parseMeta(attrs[META_ATTRIBUTE]?.StringValue);
  for (const [k, a] of Object.entries(attrs)) {
    const v = renderAttribute(a);
    if (v === undefined) continue;
    if (k === META_ATTRIBUTE && meta) continue;
    if (WIRE_NAMES.has(k) && k !== META_ATTRIBUTE) wire.set(k, v);
    else headers[k] = v;
  }
  meta ??= {};
  for (const name of (wire.get(WIRE.emptyHeaders) ?? '').split(',')) if (name) headers[name] = '';
  if (meta.h) Object.assign(headers, meta.h);
  const id = wire.get(WIRE.id) ?? (typeof meta.i === 'string' ? meta.i : undefined) ?? snsId ?? raw.MessageId ?? '';
  const group = raw.Attributes?.MessageGroupId;
  const key = wire.get(WIRE.key) ?? meta.k ?? (group !== undefined && group !== fifoToken(id) ? group : undefined);
  const encodingAttr = wire.get(WIRE.bodyEncoding);
  const encoding: SqsMeta['e'] = encodingAttr === 'base64' ? 'b64' : encodingAttr === 'empty' ? 'empty' : meta.e;
  const notBeforeText = wire.get(WIRE.notBefore);
  const notBefore = notBeforeText !== undefined ? Number(notBeforeText) : meta.n;
  return {
    id,
    body: decodeBody(bodyText, encoding),
    key,
    headers,
    replyTo: wire.get(WIRE.replyTo) ?? meta.r,
    correlationId: wire.get(WIRE.correlationId) ?? meta.c,
    notBefore: typeof notBefore === 'number' && Number.isFinite(notBefore) ? notBefore : undefined,
  };
}
