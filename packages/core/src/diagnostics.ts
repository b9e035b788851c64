import { configurationError, SwitchboardError } from './errors';

/**
 * Where Switchboard writes what it notices. The shape of pino's (and console's) level methods:
 * `logger.warn({ fields }, 'message')`, so `connect(url, { logger: pino() })` works as is. Silent
 * by default.
 */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

/**
 * What went wrong where:
 * - `handler`: a `consume` handler threw (the delivery was nacked);
 * - `consumer`: a consumer's subscription ended with an error (its `consume` loop's `done` rejects);
 * - `reconnect`: the driver lost its broker connection, or got it back (`error` says which);
 * - `reply`: a reply arrived that no request waits for (timed out, aborted, or not ours): dropped;
 * - `schema`: a message failed the consumer's schema (it was rejected to the dead-letter destination);
 * - `background`: work nobody awaits failed, e.g. handing a message back at an ack timeout.
 */
export type ErrorOrigin = 'handler' | 'consumer' | 'reconnect' | 'reply' | 'schema' | 'background';

/** One event for the `onError` hook. */
export interface ErrorEvent {
  readonly origin: ErrorOrigin;
  /** A `SwitchboardError`; for `handler`, whatever the handler threw. */
  readonly error: unknown;
  /** `kind:name` of the destination involved, when there is one. */
  readonly destination?: string;
  readonly group?: string;
  readonly messageId?: string;
  readonly attempt?: number;
  /** For `reconnect`: whether the connection was lost or is back. */
  readonly state?: 'lost' | 'regained';
}

/** Options of `connect()` that core takes before the driver sees the rest. */
export interface DiagnosticsOptions {
  /** Where Switchboard logs (pino-compatible). Default: silent. */
  logger?: Logger;
  /**
   * Called for every {@link ErrorEvent}: handler failures, consumers that end with an error,
   * reconnects, dropped replies and background failures. It must not throw (a throw is ignored).
   */
  onError?: (event: ErrorEvent) => void;
}

const noop = (): void => undefined;
/** The default logger: says nothing. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/** Reports events to the logger and the hook of one connection. */
export interface Diagnostics {
  readonly logger: Logger;
  /** Logs `event` at `level` (default `warn`) and calls the `onError` hook. Never throws. */
  report(event: ErrorEvent, message: string, level?: 'debug' | 'info' | 'warn' | 'error'): void;
}

function describe(err: unknown): object {
  if (err instanceof SwitchboardError) return { code: err.code, retryable: err.retryable, err: err.message };
  if (err instanceof Error) return { err: err.message, name: err.name };
  return { err: String(err) };
}

/** Builds the diagnostics of a connection from its options. */
export function createDiagnostics(options: DiagnosticsOptions): Diagnostics {
  const logger = options.logger ?? silentLogger;
  const hook = options.onError;
  return {
    logger,
    report(event, message, level = 'warn') {
      const { error, ...where } = event;
      try {
        logger[level]({ ...where, ...describe(error) }, message);
      } catch {
        // A broken logger must not break the path that reports.
      }
      if (!hook) return;
      try {
        hook(event);
      } catch {
        // Documented: a throwing hook is ignored.
      }
    },
  };
}

/** A diagnostics that drops everything (tests, internal connections). */
export const silentDiagnostics: Diagnostics = createDiagnostics({});

/** Checks the diagnostics options (a configuration error listing every problem). */
export function checkDiagnosticsOptions(options: DiagnosticsOptions): void {
  const problems: string[] = [];
  const { logger, onError } = options;
  if (logger !== undefined) {
    if (typeof logger !== 'object' || logger === null) problems.push('logger: must be an object with debug, info, warn and error methods');
    else for (const level of ['debug', 'info', 'warn', 'error'] as const) if (typeof logger[level] !== 'function') problems.push(`logger.${level}: must be a function`);
  }
  if (onError !== undefined && typeof onError !== 'function') problems.push('onError: must be a function');
  if (problems.length > 0) throw configurationError('connect options', problems);
}
