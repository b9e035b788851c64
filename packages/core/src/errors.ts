/**
 * The one error type of Switchboard. Every failure an adapter reports is a {@link SwitchboardError}
 * whose {@link SwitchboardError.code | code} says what went wrong in broker-neutral terms, whose
 * {@link SwitchboardError.retryable | retryable} says whether the same call may succeed later, and
 * whose `cause` keeps the client library's original error.
 */
export type ErrorCode =
  /** Bad URL or options; `details.problems` lists every problem found. */
  | 'configuration'
  /** The broker cannot be reached or the connection dropped. */
  | 'connection'
  /** Credentials were refused or the principal lacks a permission. */
  | 'auth'
  /** A destination, group or other named resource does not exist. */
  | 'not_found'
  /** An argument is invalid for this backend (destination name, option value, header count). */
  | 'invalid_argument'
  /** A message exceeds the backend's size limit. Nothing was sent. */
  | 'payload_too_large'
  /** The resource was closed before or during the call. */
  | 'closed'
  /** A deadline passed. */
  | 'timeout'
  /** An AbortSignal cancelled the call. */
  | 'aborted'
  /** The backend cannot do this; see the capability's reason. */
  | 'unsupported'
  /** A request found nobody listening (where the broker can tell). */
  | 'no_responders'
  /** A delivery was settled twice in conflicting ways (e.g. nack after ack). */
  | 'already_settled'
  /** The broker refused the message (negative confirm). */
  | 'rejected'
  /** Anything else: a bug or an unclassified client error. */
  | 'internal';

const RETRYABLE_BY_DEFAULT: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['connection', 'timeout', 'no_responders']);

export interface SwitchboardErrorOptions {
  /** Overrides the default for the code (connection, timeout and no_responders are retryable). */
  retryable?: boolean;
  cause?: unknown;
  /** Structured extras, e.g. `problems` for configuration errors. Never holds secrets. */
  details?: Record<string, unknown>;
}

const BRAND = Symbol.for('@switchboard/core/SwitchboardError');

export class SwitchboardError extends Error {
  override readonly name = 'SwitchboardError';
  /** Brand shared by every copy of this package, so `instanceof` holds across duplicate installs. */
  readonly [BRAND] = true;

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: SwitchboardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
    this.details = options.details ?? {};
  }

  /** True when `err` is a SwitchboardError, and of one of `codes` when given. */
  static is(err: unknown, ...codes: ErrorCode[]): err is SwitchboardError {
    return err instanceof SwitchboardError && (codes.length === 0 || codes.includes(err.code));
  }
}

/** A configuration error that lists every problem found, one per line. */
export function configurationError(subject: string, problems: readonly string[]): SwitchboardError {
  return new SwitchboardError(
    'configuration',
    `invalid ${subject}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n- ${problems.join('\n- ')}`,
    { details: { problems: [...problems] } },
  );
}

export function closedError(what: string): SwitchboardError {
  return new SwitchboardError('closed', `${what} is closed`);
}

export function abortedError(signal?: AbortSignal): SwitchboardError {
  const reason: unknown = signal?.reason;
  const text = reason instanceof Error ? reason.message : reason === undefined ? '' : String(reason);
  return new SwitchboardError('aborted', `aborted${text ? `: ${text}` : ''}`, { cause: reason });
}

export function unsupportedError(capability: string, reason: string): SwitchboardError {
  return new SwitchboardError('unsupported', `${capability} is not supported: ${reason}`, { details: { capability } });
}

/** Throws an aborted error when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(signal);
}

/**
 * Passes through SwitchboardErrors and wraps anything else as `internal`. Adapters call their own
 * `classifyError()` first; this is the last resort.
 */
export function toSwitchboardError(err: unknown, fallback: ErrorCode = 'internal'): SwitchboardError {
  if (err instanceof SwitchboardError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SwitchboardError(fallback, message, { cause: err });
}
