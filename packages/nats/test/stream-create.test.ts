import { API_STREAM_CREATE_FAILED, API_STREAM_STORE_FAILED, retryStoreFailure } from '../src/stream-create';

/** An error as nats.js's JetStreamApiError carries it. */
const apiError = (code: number, description = `api error ${code}`) => Object.assign(new Error(description), { apiError: () => ({ err_code: code, code: 500, description }) });

describe('stream create', () => {
  test('stream create - a store failure (10077, the server removing an empty streams folder meanwhile) is tried again', async () => {
    let calls = 0;
    const out = await retryStoreFailure(async () => {
      if (++calls === 1) throw apiError(API_STREAM_STORE_FAILED);
      return 'created';
    }, 3, 1);
    expect(out).toBe('created');
    expect(calls).toBe(2);
  });

  test('stream create - the code clients get for it (10049 "error creating store for stream") is tried again too', async () => {
    let calls = 0;
    const out = await retryStoreFailure(async () => {
      if (++calls < 3) throw apiError(API_STREAM_CREATE_FAILED, 'error creating store for stream');
      return 'created';
    }, 3, 1);
    expect(out).toBe('created');
    expect(calls).toBe(3);
    // Another failed create (10049 with another reason) is not.
    calls = 0;
    await expect(retryStoreFailure(async () => {
      calls++;
      throw apiError(API_STREAM_CREATE_FAILED, 'subjects overlap with an existing stream');
    }, 3, 1)).rejects.toThrow('subjects overlap');
    expect(calls).toBe(1);
  });

  test('stream create - other errors are thrown at once, and a store failure after the last try', async () => {
    let calls = 0;
    await expect(retryStoreFailure(async () => {
      calls++;
      throw apiError(10058);
    }, 3, 1)).rejects.toThrow('api error 10058');
    expect(calls).toBe(1);
    calls = 0;
    await expect(retryStoreFailure(async () => {
      calls++;
      throw apiError(API_STREAM_STORE_FAILED);
    }, 3, 1)).rejects.toThrow('api error 10077');
    expect(calls).toBe(3);
  });
});
