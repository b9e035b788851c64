import { classifyError } from './classify-error';

/**
 * Runs `fn` again while it fails with a retryable error (e.g. "This server does not host this
 * topic-partition" or a coordinator still loading right after a broker start or a topic creation),
 * with a growing pause, until `timeoutMs` passed. The last error is thrown, classified.
 */
export async function retrying<T>(fn: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const c = classifyError(err);
      if (!c.retryable || Date.now() + 100 > deadline) throw c;
      await new Promise((r) => setTimeout(r, Math.min(1000, 100 * 2 ** i)));
    }
  }
}
