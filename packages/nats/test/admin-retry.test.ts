import { errors } from '@nats-io/transport-node';
import { API_STREAM_CREATE_FAILED, API_STREAM_STORE_FAILED, retryAdmin } from '../src/admin-retry';

/** An error as nats.js's JetStreamApiError carries it. */
const apiError = (code: number, description = `api error ${code}`) => Object.assign(new Error(description), { apiError: () => ({ err_code: code, code: 500, description }) });

describe('admin retry', () => {
  test('admin retry - a store failure (10077, the server removing an empty streams folder meanwhile) is tried again', async () => {
    let calls = 0;
    const out = await retryAdmin(async () => {
      if (++calls === 1) throw apiError(API_STREAM_STORE_FAILED);
      return 'created';
    }, 3, 1);
    expect(out).toBe('created');
    expect(calls).toBe(2);
  });

  test('admin retry - the code clients get for it (10049 "error creating store for stream") is tried again too', async () => {
    let calls = 0;
    const out = await retryAdmin(async () => {
      if (++calls < 3) throw apiError(API_STREAM_CREATE_FAILED, 'error creating store for stream');
      return 'created';
    }, 3, 1);
    expect(out).toBe('created');
    expect(calls).toBe(3);
    // Another failed create (10049 with another reason) is not.
    calls = 0;
    await expect(retryAdmin(async () => {
      calls++;
      throw apiError(API_STREAM_CREATE_FAILED, 'subjects overlap with an existing stream');
    }, 3, 1)).rejects.toThrow('subjects overlap');
    expect(calls).toBe(1);
  });

  test('admin retry - other errors are thrown at once, and a store failure after the last try', async () => {
    let calls = 0;
    await expect(retryAdmin(async () => {
      calls++;
      throw apiError(10058);
    }, 3, 1)).rejects.toThrow('api error 10058');
    expect(calls).toBe(1);
    calls = 0;
    await expect(retryAdmin(async () => {
      calls++;
      throw apiError(API_STREAM_STORE_FAILED);
    }, 3, 1)).rejects.toThrow('api error 10077');
    expect(calls).toBe(3);
  });

  test('admin retry - a request the server did not answer in time (nats.js TimeoutError) is asked again, up to the last try', async () => {
    let calls = 0;
    const out = await retryAdmin(async () => {
      if (++calls < 3) throw new errors.TimeoutError();
      return 'consumer';
    }, 3, 1);
    expect(out).toBe('consumer');
    expect(calls).toBe(3);
    calls = 0;
    await expect(retryAdmin(async () => {
      calls++;
      throw new errors.TimeoutError();
    }, 3, 1)).rejects.toThrow('timeout');
    expect(calls).toBe(3);
  });
});
