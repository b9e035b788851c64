import { SwitchboardError, type ErrorCode } from '@switchboard/core';
import { tlsFailure } from '@switchboard/core/driver';

const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ECONNABORTED']);

/** node-redis's own error classes, by name, that mean the connection is gone or not there yet. */
const CONNECTION_ERRORS = new Set(['ConnectionTimeoutError', 'SocketClosedUnexpectedlyError', 'ClientOfflineError', 'DisconnectsClientError', 'ReconnectStrategyError', 'SocketTimeoutError']);

/** Error prefixes of Redis replies (the first word of the reply) and what they mean. */
const REPLY_PREFIXES: Readonly<Record<string, ErrorCode>> = {
  NOAUTH: 'auth',
  WRONGPASS: 'auth',
  NOPERM: 'auth',
  NOGROUP: 'not_found',
  BUSYGROUP: 'invalid_argument',
  WRONGTYPE: 'invalid_argument',
  LOADING: 'connection',
  BUSY: 'connection',
  MASTERDOWN: 'connection',
  READONLY: 'connection',
  TRYAGAIN: 'connection',
  OOM: 'rejected',
  NOSCRIPT: 'internal',
};

/**
 * Maps any error node-redis (or the socket under it) reports to a {@link SwitchboardError},
 * keeping the original as `cause`. SwitchboardErrors pass through unchanged.
 *
 * - NOAUTH, WRONGPASS, NOPERM -> `auth`
 * - NOGROUP, "no such key" -> `not_found`
 * - WRONGTYPE, BUSYGROUP, "ERR ... syntax/invalid" -> `invalid_argument`
 * - "max ... bulk length", "string exceeds maximum allowed size" -> `payload_too_large`
 * - OOM (maxmemory reached with noeviction) -> `rejected`
 * - a TLS handshake that failed on the certificate (also as a cause) -> `connection`, not retryable
 * - socket errors, node-redis's closed/offline/timeout errors, LOADING, BUSY, READONLY -> `connection` (retryable)
 * - a closed client (ClientClosedError) -> `closed`
 * - anything else -> `internal`
 */
export function classifyError(err: unknown): SwitchboardError {
  if (err instanceof SwitchboardError) return err;
  // node-redis reports a reconnect strategy that gave up as ReconnectStrategyError { originalError }.
  const tls = tlsFailure(err, 'Redis') ?? tlsFailure((err as { originalError?: unknown } | undefined)?.originalError, 'Redis');
  if (tls) return tls;
  const e = (err ?? {}) as { message?: unknown; code?: unknown; name?: unknown; constructor?: { name?: string } };
  const message = typeof e.message === 'string' ? e.message : String(err);
  const kind = e.constructor?.name ?? (typeof e.name === 'string' ? e.name : '');
  const make = (code: ErrorCode, retryable?: boolean) =>
    new SwitchboardError(code, `Redis: ${message}`, { cause: err, ...(retryable === undefined ? {} : { retryable }) });

  const prefix = /^([A-Z]+)\b/.exec(message)?.[1];
  if (prefix && REPLY_PREFIXES[prefix]) return make(REPLY_PREFIXES[prefix]!);
  if (/invalid password|invalid username-password|authentication required/i.test(message)) return make('auth');
  if (/max.*bulk.*length|exceeds maximum allowed size|too large/i.test(message)) return make('payload_too_large');
  if (/no such key|requires the key to exist/i.test(message)) return make('not_found');
  if (kind === 'ClientClosedError' || /the client is closed/i.test(message)) return make('closed');
  if (CONNECTION_ERRORS.has(kind) || (typeof e.code === 'string' && SOCKET_CODES.has(e.code))) return make('connection');
  if (/socket closed|connection (is )?closed|econnrefused|econnreset|connection timeout/i.test(message)) return make('connection');
  if (/certificate|self[- ]signed|TLS|SSL/i.test(message)) return make('connection', false);
  if (/^ERR\b.*(syntax|invalid|wrong number)/i.test(message)) return make('invalid_argument');
  return make('internal');
}
