/** nats-server's JSStreamStoreFailedF: "error creating store for stream". */
export const API_STREAM_STORE_FAILED = 10077;

const apiCodeOf = (err: unknown): number | undefined => {
  try {
    return (err as { apiError?: () => { err_code?: number } }).apiError?.().err_code;
  } catch {
    return undefined;
  }
};

/**
 * Runs `create` (a JetStream stream create) again when the server failed to create the stream's
 * store (10077), up to `tries` times in all, `delayMs` x the attempt apart. nats-server 2.12 removes
 * an account's empty `streams` folder in the background after its last stream is deleted; a create
 * racing that removal fails with "could not create storage directory ... no such file or directory",
 * and the next create succeeds. Any other error is thrown at once.
 */
export async function retryStoreFailure<T>(create: () => Promise<T>, tries = 3, delayMs = 50): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await create();
    } catch (err) {
      if (attempt >= tries || apiCodeOf(err) !== API_STREAM_STORE_FAILED) throw err;
      await new Promise((resolve) => setTimeout(resolve, delayMs * attempt));
    }
  }
}
