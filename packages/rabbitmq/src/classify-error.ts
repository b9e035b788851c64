import { SwitchboardError, type ErrorCode } from '@switchboard/core';

/** AMQP 0-9-1 reply codes RabbitMQ sends in channel.close / connection.close. */
const REPLY_CODES: Readonly<Record<number, ErrorCode>> = {
  311: 'payload_too_large', // CONTENT_TOO_LARGE
  312: 'not_found', // NO_ROUTE
  313: 'no_responders', // NO_CONSUMERS
  320: 'connection', // CONNECTION_FORCED
  402: 'invalid_argument', // INVALID_PATH
  403: 'auth', // ACCESS_REFUSED
  404: 'not_found', // NOT_FOUND
  405: 'invalid_argument', // RESOURCE_LOCKED (exclusive queue in use)
  406: 'invalid_argument', // PRECONDITION_FAILED
  501: 'payload_too_large', // FRAME_ERROR (oversized frame)
  502: 'internal', // SYNTAX_ERROR
  503: 'internal', // COMMAND_INVALID
  504: 'connection', // CHANNEL_ERROR
  505: 'internal', // UNEXPECTED_FRAME
  506: 'connection', // RESOURCE_ERROR (broker out of resources)
  530: 'auth', // NOT_ALLOWED (e.g. vhost access refused)
  540: 'unsupported', // NOT_IMPLEMENTED
  541: 'internal', // INTERNAL_ERROR
};

const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ECONNABORTED', 'ERR_SOCKET_CLOSED']);

const CONNECTION_TEXT = /socket closed|unexpected close|heartbeat timeout|connection closed|channel closed|channel ended|connect etimedout|connection is closing|closed abruptly|econnrefused|econnreset/i;

/**
 * Maps any error amqplib (or the socket under it) reports to a {@link SwitchboardError}, keeping
 * the original as `cause`. SwitchboardErrors pass through unchanged.
 *
 * - 403 ACCESS_REFUSED, 530 NOT_ALLOWED -> `auth`
 * - 404 NOT_FOUND -> `not_found`
 * - 406 PRECONDITION_FAILED -> `configuration` when a declaration clashes with an existing one
 *   ("inequivalent arg"), `payload_too_large` for RabbitMQ's max message size, else `invalid_argument`
 * - 311 CONTENT_TOO_LARGE, 501 FRAME_ERROR, amqplib's header-table RangeError -> `payload_too_large`
 * - socket errors (ECONNREFUSED, ECONNRESET, ...), 320 CONNECTION_FORCED, closed channel or connection -> `connection` (retryable)
 * - a negative publisher confirm ("message nacked") -> `rejected`, retryable: RabbitMQ nacks a publish
 *   it did not store, after an internal error in a queue's process or with `x-overflow: reject-publish`
 *   on a full queue, so the same publish may be stored later
 * - anything else -> `internal`
 */
export function classifyError(err: unknown): SwitchboardError {
  if (err instanceof SwitchboardError) return err;
  const e = (err ?? {}) as { message?: unknown; code?: unknown; name?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  const make = (code: ErrorCode, retryable?: boolean) =>
    new SwitchboardError(code, `RabbitMQ: ${message}`, { cause: err, ...(retryable === undefined ? {} : { retryable }) });

  if (/message size \d+ is larger than configured max size|max.?message.?size/i.test(message)) return make('payload_too_large');
  if (err instanceof RangeError && /table|64 ?KiB|encoding buffer|offset is out of range/i.test(message)) return make('payload_too_large');
  if (/ACCESS[-_]REFUSED|authentication failed|login was refused/i.test(message)) return make('auth');
  if (/NOT[-_]ALLOWED/i.test(message) && /vhost/i.test(message)) return make('auth');
  if (/PRECONDITION[-_]FAILED/i.test(message) && /inequivalent arg/i.test(message)) return make('configuration');
  if (/message nacked/i.test(message)) return make('rejected', true);

  if (typeof e.code === 'number' && REPLY_CODES[e.code]) return make(REPLY_CODES[e.code]!);
  const replyInText = /\b(\d{3}) \(([A-Z-]+)\)/.exec(message);
  if (replyInText && REPLY_CODES[Number(replyInText[1])]) return make(REPLY_CODES[Number(replyInText[1])]!);

  if (typeof e.code === 'string' && SOCKET_CODES.has(e.code)) return make('connection');
  if (e.name === 'IllegalOperationError' || CONNECTION_TEXT.test(message)) return make('connection');
  if (/certificate|self[- ]signed|TLS|SSL/i.test(message)) return make('connection', false);
  return make('internal');
}
