import { SwitchboardError } from '@switchboard/core';

/** The pieces of a client error that classification looks at. */
function describe(err: unknown): { name: string; message: string; code: unknown; apiCode: unknown } {
  if (typeof err !== 'object' || err === null) return { name: '', message: String(err), code: undefined, apiCode: undefined };
  const e = err as { name?: unknown; message?: unknown; code?: unknown; status?: unknown; apiError?: () => { err_code?: number; code?: number } };
  let apiCode: unknown;
  if (typeof e.apiError === 'function') {
    try {
      apiCode = e.apiError().err_code;
    } catch {
      apiCode = undefined;
    }
  }
  return { name: typeof e.name === 'string' ? e.name : '', message: typeof e.message === 'string' ? e.message : String(err), code: e.code, apiCode };
}

const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;
const JS_NOT_ENABLED = 10039;
const MAX_PAYLOAD = 10054;
/** Stream name too long (10052), consumer name too long (10102): names are checked up front, so only a backstop. */
const NAME_TOO_LONG = [10052, 10102];

/**
 * Maps an error of the NATS client (@nats-io/nats-core, transport-node, jetstream) to a
 * {@link SwitchboardError}. SwitchboardErrors pass through. The rules, first match wins:
 * - aborts -> `aborted`; no responders (503, `NoRespondersError`, a `RequestError` caused by one) -> `no_responders`;
 * - `TimeoutError` and JetStream 408 / "timeout" -> `timeout`;
 * - `PermissionViolationError`, `AuthorizationError`, `UserAuthenticationExpiredError`, "authorization violation",
 *   "authentication" -> `auth`;
 * - stream / consumer not found (API codes 10059, 10014, status 404) -> `not_found`;
 * - "maximum payload" / message size exceeded -> `payload_too_large`;
 * - `ClosedConnectionError`, `DrainingConnectionError` -> `closed`;
 * - `ConnectionError`, ECONNREFUSED / ECONNRESET / EPIPE / ETIMEDOUT / "disconnect" -> `connection`;
 * - `InvalidSubjectError`, `InvalidArgumentError`, `InvalidNameError`, stream / consumer name too long
 *   (API codes 10052, 10102) -> `invalid_argument`;
 * - anything else -> `internal`.
 * The message never contains credentials: client errors do not carry them.
 */
export function classifyError(err: unknown): SwitchboardError {
  if (err instanceof SwitchboardError) return err;
  const { name, message, code, apiCode } = describe(err);
  const text = `${name} ${message}`.toLowerCase();
  const make = (c: ConstructorParameters<typeof SwitchboardError>[0], retryable?: boolean) =>
    new SwitchboardError(c, `nats: ${message || name || 'unknown error'}`, { cause: err, ...(retryable === undefined ? {} : { retryable }) });
  const cause = typeof err === 'object' && err !== null ? (err as { cause?: unknown }).cause : undefined;

  if (name === 'AbortError') return make('aborted');
  if (name === 'NoResponders' || name === 'NoRespondersError' || code === 503 || text.includes('no responders')) return make('no_responders');
  if (name === 'RequestError' && cause !== undefined) {
    const inner = classifyError(cause);
    return new SwitchboardError(inner.code, inner.message, { cause: err, retryable: inner.retryable });
  }
  if (name === 'TimeoutError' || code === 408 || /\btimeout\b|timed out/.test(text)) return make('timeout');
  if (
    name === 'PermissionViolationError' ||
    name === 'AuthorizationError' ||
    name === 'UserAuthenticationExpiredError' ||
    text.includes('authorization violation') ||
    text.includes('permissions violation') ||
    text.includes('authentication')
  ) {
    return make('auth', false);
  }
  if (apiCode === STREAM_NOT_FOUND || apiCode === CONSUMER_NOT_FOUND || name === 'StreamNotFoundError' || name === 'ConsumerNotFoundError' || /(stream|consumer) not found/.test(text)) {
    return make('not_found');
  }
  if (apiCode === MAX_PAYLOAD || text.includes('maximum payload') || text.includes('max_payload') || text.includes('message size exceeds') || text.includes('message too large')) {
    return make('payload_too_large');
  }
  // Connecting checks JetStream once (no JetStream there is `unsupported` then). Once connected, a
  // server that answers "JetStream not enabled" is restarting and has not recovered JetStream yet.
  if (apiCode === JS_NOT_ENABLED || name === 'JetStreamNotEnabled' || text.includes('jetstream is not enabled') || text.includes('jetstream not enabled')) return make('connection', true);
  if (name === 'ClosedConnectionError' || name === 'DrainingConnectionError' || text.includes('closed connection') || text.includes('connection draining')) {
    return make('closed');
  }
  if (
    name === 'ConnectionError' ||
    name === 'ProtocolError' && text.includes('stale connection') ||
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(String(code)) ||
    /econnrefused|econnreset|disconnect|connection refused|connection (lost|reset|failed)/.test(text)
  ) {
    return make('connection');
  }
  if (
    name === 'InvalidSubjectError' ||
    name === 'InvalidArgumentError' ||
    name === 'InvalidNameError' ||
    NAME_TOO_LONG.includes(apiCode as number) ||
    text.includes('name is too long') ||
    text.includes('invalid subject') ||
    text.includes('illegal subject')
  ) {
    return make('invalid_argument');
  }
  return make('internal');
}
