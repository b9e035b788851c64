import { SwitchboardError } from '@switchboard/core';
import type { DriverHost } from '@switchboard/core/driver';
import { classifyError } from './errors';

type Level = 'debug' | 'info' | 'warn' | 'error';

/**
 * The AWS SDK's logger shape, routed to the application's logger (silent by default). The SDK logs
 * every call at info (client, command, input, output): that goes to `debug`, so an application's
 * info log is not one line per SQS call; the SDK's warnings and errors keep their level.
 */
export function sdkLogger(host: Pick<DriverHost, 'logger'>): { trace(...a: unknown[]): void; debug(...a: unknown[]): void; info(...a: unknown[]): void; warn(...a: unknown[]): void; error(...a: unknown[]): void } {
  const at = (level: Level) => (...content: unknown[]) => {
    const [first, ...rest] = content;
    const fields = first && typeof first === 'object' && !(first instanceof Error) ? { source: 'aws-sdk', ...(first as object) } : { source: 'aws-sdk' };
    const text = [first, ...rest]
      .filter((c) => typeof c === 'string' || c instanceof Error)
      .map((c) => (c instanceof Error ? c.message : (c as string)))
      .join(' ');
    try {
      host.logger[level](fields, text || 'aws-sdk');
    } catch {
      // A broken logger must not break a call.
    }
  };
  return { trace: () => undefined, debug: at('debug'), info: at('debug'), warn: at('warn'), error: at('error') };
}

/** Whether an SDK error means the endpoint could not be reached (no HTTP answer at all). */
export function isUnreachable(err: unknown): boolean {
  const e = err as { $metadata?: { httpStatusCode?: number }; $response?: { statusCode?: number } } | undefined;
  if (e?.$metadata?.httpStatusCode !== undefined || e?.$response?.statusCode !== undefined) return false;
  return classifyError(err).code === 'connection';
}

/**
 * Tracks whether the endpoint answers, from every SQS and SNS call of a connection (an SDK
 * middleware calls {@link failed} / {@link ok}). HTTP has no connection to lose, so "lost" is the
 * first call that got no answer at all (after the SDK's own retries) and "back" the next call that
 * got one: reported once each through `host.report` (origin `reconnect`, warn when lost, info when back).
 */
export class EndpointHealth {
  private lostAt: number | undefined;
  private lostError: SwitchboardError | undefined;
  private armed = false;

  constructor(
    private readonly host: Pick<DriverHost, 'report'>,
    private readonly endpoint: string,
  ) {}

  /** Starts tracking once the connection is open (a failed connect is the connect's error, not a lost connection). */
  arm(): void {
    this.armed = true;
  }

  get lost(): boolean {
    return this.lostAt !== undefined;
  }

  failed(err: unknown): void {
    if (!this.armed || this.lostAt !== undefined || !isUnreachable(err)) return;
    this.lostAt = Date.now();
    this.lostError = classifyError(err);
    this.host.report(
      { origin: 'reconnect', error: this.lostError, state: 'lost' },
      `SQS/SNS endpoint ${this.endpoint} unreachable (${this.lostError.message}); consumers keep polling with backoff, sends fail until it answers`,
      'warn',
    );
  }

  ok(): void {
    if (this.lostAt === undefined) return;
    const after = Date.now() - this.lostAt;
    const error = this.lostError ?? new SwitchboardError('connection', 'endpoint unreachable');
    this.lostAt = undefined;
    this.lostError = undefined;
    this.host.report({ origin: 'reconnect', error, state: 'regained' }, `SQS/SNS endpoint ${this.endpoint} answers again after ${after} ms`, 'info');
  }
}
