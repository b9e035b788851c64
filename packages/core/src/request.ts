import { abortedError, SwitchboardError } from './errors';
import { bytesToText } from './message';
import type { Headers, Reply } from './types';

export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;

export function createReply(body: Uint8Array, headers: Headers, correlationId: string): Reply {
  return { body, headers, correlationId, text: () => bytesToText(body) };
}

/**
 * Pending requests by correlation id, for adapters that route replies themselves. Each `wait`
 * settles exactly once: with its reply, a `timeout` error at the deadline, `aborted` on the
 * signal, or the error given to `rejectAll` (e.g. `closed`). Replies for unknown ids are dropped.
 */
export class PendingReplies {
  private readonly pending = new Map<string, { resolve: (r: Reply) => void; reject: (e: unknown) => void }>();

  get size(): number {
    return this.pending.size;
  }

  wait(correlationId: string, timeoutMs: number, signal: AbortSignal | undefined, what: string): Promise<Reply> {
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    return new Promise<Reply>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(correlationId);
      };
      const timer = setTimeout(() => {
        done();
        reject(new SwitchboardError('timeout', `no reply to the request on ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onAbort = () => {
        done();
        reject(abortedError(signal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(correlationId, {
        resolve: (r) => { done(); resolve(r); },
        reject: (e) => { done(); reject(e); },
      });
    });
  }

  /** Settles the request with this id; false when none waits (late or foreign reply). */
  resolve(correlationId: string, reply: Reply): boolean {
    const p = this.pending.get(correlationId);
    if (!p) return false;
    p.resolve(reply);
    return true;
  }

  reject(correlationId: string, err: unknown): boolean {
    const p = this.pending.get(correlationId);
    if (!p) return false;
    p.reject(err);
    return true;
  }

  isWaiting(correlationId: string): boolean {
    return this.pending.has(correlationId);
  }

  rejectAll(err: unknown): void {
    for (const p of [...this.pending.values()]) p.reject(err);
  }
}
