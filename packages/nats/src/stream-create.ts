import { setTimeout as delay } from 'node:timers/promises';

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

/**
 * Runs `create` (a JetStream stream create) again when the server failed to create the stream's
 * store ({@link isStoreFailure}: the client gets 10049 "error creating store for stream", the
 * server logs 10077), up to `tries` times in all, `delayMs` x the attempt apart. nats-server 2.12 removes
 * an account's empty `streams` folder in the background after its last stream is deleted; a create
 * racing that removal fails with "could not create storage directory ... no such file or directory",
 * and the next create succeeds. Any other error is thrown at once.
 */
export async function retryStoreFailure<T>(create: () => Promise<T>, tries = 3, delayMs = 50): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await create();
    } catch (err) {
      if (attempt >= tries || !isStoreFailure(err)) throw err;
      await delay(delayMs * attempt);
    }
  }
}
