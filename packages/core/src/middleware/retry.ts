import { abortedError, SwitchboardError, toSwitchboardError } from '../errors';
import type { Producer } from '../types';

export interface RetryOptions {
  /** Retries after the first try (default 3). */
  retries?: number;
  /** First backoff (default 100 ms); each next one is `factor` times longer, up to `maxDelayMs`. */
  minDelayMs?: number;
  maxDelayMs?: number;
  factor?: number;
  /** Full jitter: each wait is uniform in [0, backoff] (default true). */
  jitter?: boolean;
  /** Which errors to retry (default: `retryable` SwitchboardErrors). */
  shouldRetry?: (err: SwitchboardError, attempt: number) => boolean;
  /** Called before each wait, e.g. for logging. */
  onRetry?: (err: SwitchboardError, attempt: number, delayMs: number) => void;
}

/** The wait before retry number `attempt` (1-based), without jitter. */
export function backoffDelay(attempt: number, o: Required<Pick<RetryOptions, 'minDelayMs' | 'maxDelayMs' | 'factor'>>): number {
  return Math.min(o.maxDelayMs, o.minDelayMs * o.factor ** (attempt - 1));
}

/**
 * Runs `fn` until it resolves, retrying errors that are retryable with exponential backoff.
 * Gives up with the last error after `retries` retries; an aborted signal ends it with `aborted`.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}, signal?: AbortSignal): Promise<T> {
  const o = { retries: 3, minDelayMs: 100, maxDelayMs: 5000, factor: 2, jitter: true, ...options };
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      const err = toSwitchboardError(e);
      const again = attempt <= o.retries && (o.shouldRetry ? o.shouldRetry(err, attempt) : err.retryable) && !signal?.aborted;
      if (!again) throw err;
      const base = backoffDelay(attempt, o);
      const delay = o.jitter ? Math.random() * base : base;
      o.onRetry?.(err, attempt, delay);
      await sleep(delay, signal);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(signal));
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(t); reject(abortedError(signal)); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Producer middleware: `send` and `request` retry retryable failures with backoff. Give messages
 * explicit ids (or use a broker with dedup / the dedup middleware) so a retry after a lost
 * confirm is not handled twice.
 */
export function withRetry(producer: Producer, options: RetryOptions = {}): Producer {
  const wrapped: Producer = {
    send: ((dest: Parameters<Producer['send']>[0], msg: never, opts?: Parameters<Producer['send']>[2]) =>
      retry(() => producer.send(dest, msg, opts), options, opts?.signal)) as Producer['send'],
    request: (dest, msg, opts) => retry(() => producer.request(dest, msg, opts), options, opts?.signal),
    close: () => producer.close(),
    [Symbol.asyncDispose]: () => producer.close(),
  };
  return wrapped;
}
