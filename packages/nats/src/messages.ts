import { headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/nats-core';
import { JetStreamApiError } from '@nats-io/jetstream';
import { HEADERS, SwitchboardError, type Headers } from '@switchboard/core';
import type { NormalizedMessage } from '@switchboard/core/driver';
import { classifyError } from './errors';

/** Headers the adapter writes itself and strips from what a consumer sees. */
export const NATS_MSG_ID = 'Nats-Msg-Id';
/** Names of headers whose values were percent-encoded because NATS would trim or break them. */
export const ENCODED_HEADERS = 'sb-encoded-headers';
const INTERNAL = new Set<string>([ENCODED_HEADERS, NATS_MSG_ID, HEADERS.messageId, HEADERS.key, HEADERS.notBefore, HEADERS.replyTo, HEADERS.correlationId]);

export interface Extra {
  replyTo?: string;
  correlationId?: string;
  notBefore?: number;
}

/** Builds the NATS headers of one message: the caller's headers plus the adapter's own. Throws invalid_argument for names NATS cannot carry. */
export function buildHeaders(m: NormalizedMessage, extra: Extra = {}, withMsgId = false): MsgHdrs {
  const h = natsHeaders();
  try {
    const encoded: string[] = [];
    for (const [k, v] of Object.entries(m.headers)) {
      if (/^\s|\s$|[\r\n]/.test(v)) {
        h.set(k, encodeURIComponent(v));
        encoded.push(encodeURIComponent(k));
      } else h.set(k, v);
    }
    if (encoded.length) h.set(ENCODED_HEADERS, encoded.join(','));
    h.set(HEADERS.messageId, m.id);
    if (withMsgId) h.set(NATS_MSG_ID, m.id);
    if (m.key !== undefined) h.set(HEADERS.key, m.key);
    if (extra.replyTo !== undefined) h.set(HEADERS.replyTo, extra.replyTo);
    if (extra.correlationId !== undefined) h.set(HEADERS.correlationId, extra.correlationId);
    if (extra.notBefore !== undefined) h.set(HEADERS.notBefore, String(extra.notBefore));
  } catch (err) {
    throw new SwitchboardError('invalid_argument', `message ${m.id}: ${(err as Error).message}`, { cause: err });
  }
  return h;
}

/** Size of a message on the wire as the server counts it against max_payload: header block plus body. */
export function wireSize(h: MsgHdrs | undefined, body: Uint8Array): number {
  if (!h) return body.byteLength;
  const encoded = (h as unknown as { encode?: () => Uint8Array }).encode?.();
  if (encoded) return encoded.byteLength + body.byteLength;
  let n = 'NATS/1.0\r\n\r\n'.length;
  for (const k of h.keys()) for (const v of h.values(k)) n += Buffer.byteLength(k) + 2 + Buffer.byteLength(v) + 2;
  return n + body.byteLength;
}

export function assertWireSize(m: NormalizedMessage, h: MsgHdrs | undefined, maxPayload: number, index: number): void {
  const size = wireSize(h, m.body);
  if (size > maxPayload) {
    throw new SwitchboardError('payload_too_large', `message ${index} (id ${m.id}) is ${size} bytes with its headers; the NATS server accepts at most ${maxPayload} (max_payload)`, {
      details: { size, limit: maxPayload, index },
    });
  }
}

/** What a consumer reads from a NATS message's headers. */
export interface ReadHeaders {
  user: Headers;
  id: string | undefined;
  key: string | undefined;
  replyTo: string | undefined;
  correlationId: string | undefined;
  notBefore: number | undefined;
}

/**
 * Reads a delivery's headers in one pass over the header map (its iterator; `get`/`has`/`values`
 * of nats.js copy and filter the key list on every call). Percent-decodes the values named in
 * `sb-encoded-headers`, and builds that set only when the header is there.
 */
export function readHeaders(h: MsgHdrs | undefined): ReadHeaders {
  const user: Headers = {};
  const out: ReadHeaders = { user, id: undefined, key: undefined, replyTo: undefined, correlationId: undefined, notBefore: undefined };
  if (!h) return out;
  let natsMsgId: string | undefined;
  let encodedList: string | undefined;
  for (const [k, values] of h) {
    // A name sent more than once: the first value, deliberately, as NATS's own clients read it
    // (nats.js `headers.get`, nats.go `Header.Get`); the later values are dropped.
    const v = values[0] ?? '';
    if (!INTERNAL.has(k)) {
      user[k] = v;
      continue;
    }
    if (k === HEADERS.messageId) out.id = v;
    else if (k === NATS_MSG_ID) natsMsgId = v;
    else if (k === HEADERS.key) out.key = v;
    else if (k === HEADERS.replyTo) out.replyTo = v;
    else if (k === HEADERS.correlationId) out.correlationId = v;
    else if (k === ENCODED_HEADERS) encodedList = v;
    else if (k === HEADERS.notBefore) {
      const n = Number(v);
      out.notBefore = Number.isFinite(n) ? n : undefined;
    }
  }
  out.id ??= natsMsgId;
  if (encodedList) {
    for (const n of encodedList.split(',')) {
      if (!n) continue;
      const name = safeDecode(n);
      const v = user[name];
      if (v !== undefined) user[name] = safeDecode(v);
    }
  }
  return out;
}

/** The first value of header `k` (NATS headers may repeat a name). */
export function firstValue(h: MsgHdrs, k: string): string {
  return h.values(k)[0] ?? '';
}

/**
 * Whether a message on a reply inbox is a JetStream PubAck (`{"stream":...,"seq":...}` or a
 * JetStream API error, no headers) rather than a reply: what a stream sends to the reply subject of
 * a publish on its subject. Never taken for the reply of a request.
 */
export function isPubAck(headers: MsgHdrs | undefined, body: Uint8Array): boolean {
  if (headers !== undefined && [...headers.keys()].length > 0) return false;
  if (body.byteLength === 0 || body.byteLength > 1024 || body[0] !== 0x7b) return false;
  try {
    const v = JSON.parse(new TextDecoder().decode(body)) as Record<string, unknown>;
    const keys = Object.keys(v);
    const ack = typeof v.stream === 'string' && typeof v.seq === 'number' && keys.every((k) => ['stream', 'seq', 'domain', 'duplicate', 'val'].includes(k));
    const apiError = typeof v.error === 'object' && v.error !== null && keys.every((k) => ['error', 'stream', 'seq'].includes(k)) && 'err_code' in (v.error as object);
    return ack || apiError;
  } catch {
    return false;
  }
}

const pubAckDecoder = new TextDecoder();

/**
 * The stream sequence from the server's answer to a JetStream publish (`{"stream","seq"}`), or the
 * error it is: a 503 status is `no_responders` (no stream takes the subject), a JetStream API error
 * is classified as nats.js's own `JetStreamApiError` would be (e.g. 10059 -> `not_found`), an
 * answer that is neither is `internal`.
 */
export function parsePubAck(msg: Msg): number {
  if (msg.headers?.code === 503 && msg.data.byteLength === 0) {
    throw new SwitchboardError('no_responders', 'nats: no responders: no stream takes the subject of the publish');
  }
  let v: { stream?: unknown; seq?: unknown; error?: { code: number; err_code: number; description: string } };
  try {
    v = JSON.parse(pubAckDecoder.decode(msg.data)) as typeof v;
  } catch (err) {
    throw new SwitchboardError('internal', 'nats: the answer to a JetStream publish is not a PubAck', { cause: err });
  }
  if (v.error) throw classifyError(new JetStreamApiError(v.error));
  if (typeof v.stream !== 'string' || v.stream === '' || typeof v.seq !== 'number') {
    throw new SwitchboardError('internal', 'nats: the answer to a JetStream publish is not a PubAck');
  }
  return v.seq;
}

/** Exact-match header filter (PS4). */
export function matchesFilter(user: Headers, filter: Headers | undefined): boolean {
  if (!filter) return true;
  for (const [k, v] of Object.entries(filter)) if (user[k] !== v) return false;
  return true;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Publishes a reply to a request's reply-to subject and waits until the server has it: the one
 * reply path of both modes (a core NATS request's inbox, a JetStream request's `sb-reply-to`).
 */
export async function publishReply(nc: NatsConnection, replyTo: string, correlationId: string | undefined, m: NormalizedMessage): Promise<void> {
  const h = buildHeaders(m, correlationId === undefined ? {} : { correlationId });
  try {
    nc.publish(replyTo, m.body, { headers: h });
    await nc.flush();
  } catch (err) {
    throw classifyError(err);
  }
}
