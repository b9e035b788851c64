import { setTimeout as delay } from 'node:timers/promises';
import { classifyError } from './errors';

/** nats-server's JSStreamStoreFailedF: the stream's store could not be made. */
export const API_STREAM_STORE_FAILED = 10077;
/** nats-server's JSStreamCreateErrF: the code a client gets for a failed store ("error creating store for stream"). */
export const API_STREAM_CREATE_FAILED = 10049;

/** A create that failed because the server could not make the stream's store (and only that). */
export function isStoreFailure(err: unknown): boolean {
  let api: { err_code?: number; description?: string } | undefined;
  try {
    api = (err as { apiError?: () => { err_code?: number; description?: string } }).apiError?.();
  } catch {
    return false;
  }
  if (api?.err_code === API_STREAM_STORE_FAILED) return true;
  const text = `${api?.description ?? ''} ${(err as { message?: unknown }).message ?? ''}`;
  return api?.err_code === API_STREAM_CREATE_FAILED && /creating store|storage directory/i.test(text);
}

/** A JetStream API request that got no answer within the manager's timeout (`apiTimeoutMs`). */
export function isApiTimeout(err: unknown): boolean {
  return classifyError(err).code === 'timeout';
}

/**
 * Runs `call`, a JetStream admin request that is safe to repeat (a stream or consumer info, or an
 * add or update with the same config: the server answers a repeated add with what exists), again
 * after one of two transient failures, up to `tries` times in all, `delayMs` x the attempt apart:
 * - a store failure ({@link isStoreFailure}): nats-server 2.12 removes an account's empty `streams`
 *   folder in the background after its last stream is deleted; a create racing that removal fails
 *   with "could not create storage directory ... no such file or directory", and the next one works;
 * - no answer in time ({@link isApiTimeout}): in a cluster, an R3 stream or consumer is made by a
 *   Raft group whose election can outlast the timeout on a busy host (seen on a three-node cluster
 *   on two cores: a consumer create took longer than 5 s). The request may have gone through; the
 *   repeat then finds it.
 *
 * Any other error, or the last try's, is thrown as it came.
 */
export async function retryAdmin<T>(call: () => Promise<T>, tries = 3, delayMs = 50): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= tries || !(isStoreFailure(err) || isApiTimeout(err))) throw err;
      await delay(delayMs * attempt);
    }
  }
}
