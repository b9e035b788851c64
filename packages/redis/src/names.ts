import type { Destination, Headers, StartPosition } from '@switchboard/core';
import type { NormalizedMessage } from '@switchboard/core/driver';

/** Destination names the adapter accepts: they become part of Redis keys. */
export const NAME = /^[A-Za-z0-9._-]+$/;
export const NAME_RULE = 'use 1-200 characters from A-Z a-z 0-9 . _ -';

/** The one consumer group of a queue's stream: every Switchboard group of a queue shares it. */
export const QUEUE_GROUP = 'sb';
/** Consumer name that holds the pending entries of closed members until another member claims them. */
export const PARKED = 'sb-parked';

/** The Redis keys behind a destination and one group of it. */
export interface Keys {
  /** The stream. */
  readonly stream: string;
  /** The consumer group on it (queues: one shared group). */
  readonly group: string;
  /** Sorted set of entry ids due for redelivery to this group (score: due time, ms since epoch). */
  readonly due: string;
  /** Hash of who gave each due entry back (entry id -> member). */
  readonly from: string;
}

export const streamKey = (prefix: string, d: Destination) => `${prefix}:${d.kind === 'queue' ? 'q' : 't'}:${d.name}`;

/** The keys of `d` for Switchboard group `group` (ignored for a queue). */
export function keysOf(prefix: string, d: Destination, group: string): Keys {
  const stream = streamKey(prefix, d);
  const g = d.kind === 'queue' ? QUEUE_GROUP : group;
  return { stream, group: g, due: `${prefix}:due:${stream}|${g}`, from: `${prefix}:from:${stream}|${g}` };
}

/**
 * The wire format, which foreign clients use too (README): one stream entry per message, field
 * `body` (bytes), `sb-id`, `sb-key`, `sb-reply-to`, `sb-correlation-id`, and one field `h:<name>`
 * per header. Without `sb-id` a message's id is its entry id.
 */
export const F = { body: 'body', id: 'sb-id', key: 'sb-key', replyTo: 'sb-reply-to', correlationId: 'sb-correlation-id', header: 'h:' } as const;

export type Field = string | Uint8Array;

/**
 * The fields of one entry for `m`, with `headers` in place of its own when given. `withId: false`
 * leaves `sb-id` out: the message's id is then its entry id (a confirmed send of a message whose id
 * was only generated, see `idFromBroker`).
 */
export function encodeFields(m: NormalizedMessage, extra?: { replyTo?: string; correlationId?: string | undefined }, headers: Headers = m.headers, withId = true): Field[] {
  const out: Field[] = withId ? [F.body, m.body, F.id, m.id] : [F.body, m.body];
  if (m.key !== undefined) out.push(F.key, m.key);
  if (extra?.replyTo !== undefined) out.push(F.replyTo, extra.replyTo);
  if (extra?.correlationId !== undefined) out.push(F.correlationId, extra.correlationId);
  for (const [k, v] of Object.entries(headers)) out.push(F.header + k, v);
  return out;
}

/** One stream entry, decoded. */
export interface Decoded {
  readonly id: string;
  readonly body: Uint8Array;
  readonly key: string | undefined;
  readonly headers: Headers;
  readonly replyTo: string | undefined;
  readonly correlationId: string | undefined;
  readonly timestamp: Date;
}

const EMPTY = new Uint8Array(0);

/** Whether field name `b` starts with `prefix` (ASCII), compared byte by byte: no string is made per field. */
function startsWith(b: Buffer, prefix: string): boolean {
  if (b.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (b[i] !== prefix.charCodeAt(i)) return false;
  return true;
}

/** Whether field name `b` is `name` (ASCII), compared byte by byte. */
const isField = (b: Buffer, name: string): boolean => b.length === name.length && startsWith(b, name);

/** Decodes the fields of entry `entryId` (field names and values as Buffers, in pairs). */
export function decodeFields(entryId: string, fields: readonly Buffer[]): Decoded {
  let body: Uint8Array = EMPTY;
  let id: string | undefined;
  let key: string | undefined;
  let replyTo: string | undefined;
  let correlationId: string | undefined;
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    // Header fields by their prefix, the others by their exact bytes; unknown fields are ignored.
    if (startsWith(name, F.header)) headers[name.toString('utf8', F.header.length)] = value.toString();
    else if (isField(name, F.body)) body = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    else if (isField(name, F.id)) id = value.toString();
    else if (isField(name, F.key)) key = value.toString();
    else if (isField(name, F.replyTo)) replyTo = value.toString();
    else if (isField(name, F.correlationId)) correlationId = value.toString();
  }
  const dash = entryId.indexOf('-');
  return { id: id ?? entryId, body, key, headers, replyTo, correlationId, timestamp: new Date(Number(dash < 0 ? entryId : entryId.slice(0, dash))) };
}

const MAX_SEQ = '18446744073709551615';

/** The id just before entry `id` ("ms-seq"), so that a group set there reads `id` first. */
export function idBefore(id: string): string {
  const m = /^(\d+)(?:-(\d+))?$/.exec(id);
  if (!m) throw new Error(`not a stream entry id: ${id}`);
  const ms = BigInt(m[1]!);
  const seq = BigInt(m[2] ?? '0');
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  return ms > 0n ? `${ms - 1n}-${MAX_SEQ}` : '0';
}

/**
 * Where a new topic group starts (the `XGROUP CREATE` id): `latest` = `$`, `earliest` = `0`, a
 * position or offset (an entry id, inclusive), a timestamp (the first entry at or after it).
 */
export function startId(from: StartPosition): string {
  if (from === 'latest') return '$';
  if (from === 'earliest') return '0';
  if ('position' in from) return idBefore(from.position);
  if ('offset' in from) return idBefore(String(from.offset));
  const t = from.timestamp instanceof Date ? from.timestamp.getTime() : from.timestamp;
  return t > 0 ? idBefore(`${Math.floor(t)}-0`) : '0';
}
