import { SwitchboardError, type ErrorCode } from '@switchboard/core';

/** A failed expectation inside a case; its message becomes the case's reason. */
export class CheckFailure extends Error {
  override readonly name = 'CheckFailure';
}

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CheckFailure(message);
}

export function checkEqual<T>(actual: T, expected: T, what: string): void {
  if (!Object.is(actual, expected)) throw new CheckFailure(`${what}: expected ${fmt(expected)}, got ${fmt(actual)}`);
}

function fmt(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 120 ? `${v.slice(0, 120)}...` : v);
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 200 ? `${s.slice(0, 200)}...` : s;
  } catch {
    return String(v);
  }
}

/** Runs `fn` and checks it rejects with a SwitchboardError of one of `codes`; returns the error. */
export async function checkRejects(fn: () => Promise<unknown> | unknown, codes: readonly ErrorCode[], what: string): Promise<SwitchboardError> {
  let result: unknown;
  try {
    result = await fn();
  } catch (err) {
    if (!(err instanceof SwitchboardError)) {
      throw new CheckFailure(`${what}: expected a SwitchboardError (${codes.join(' or ')}), got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    }
    if (!codes.includes(err.code)) throw new CheckFailure(`${what}: expected error code ${codes.join(' or ')}, got "${err.code}": ${err.message}`);
    return err;
  }
  throw new CheckFailure(`${what}: expected a ${codes.join(' or ')} error, but it resolved${result === undefined ? '' : ` with ${fmt(result)}`}`);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Polls `predicate` every 10 ms until true; fails with `what` after `timeoutMs`. */
export async function waitUntil(predicate: () => boolean, timeoutMs: number, what: () => string, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new CheckFailure(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await sleep(10, signal);
  }
}
