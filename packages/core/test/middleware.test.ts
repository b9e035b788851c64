import { defineCapabilities, native } from '@switchboard/core/driver';
import { createConsumer } from '../src/consumer';
import { createDelivery } from '../src/delivery';
import {
  backoffDelay,
  CAPABILITIES,
  MemoryDedupStore,
  retry,
  SwitchboardError,
  withDedup,
  withRetry,
  type Delivery,
  type Producer,
} from '@switchboard/core';

const caps = defineCapabilities(Object.fromEntries(CAPABILITIES.map((c) => [c, native()])) as never);

describe('retry middleware', () => {
  test('retry middleware - backoff grows by the factor up to the cap', () => {
    const o = { minDelayMs: 100, maxDelayMs: 1000, factor: 2 };
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(a, o))).toEqual([100, 200, 400, 800, 1000]);
  });

  test('retry middleware - retries retryable errors and gives up on the rest', async () => {
    let calls = 0;
    const result = await retry(async () => {
      calls++;
      if (calls < 3) throw new SwitchboardError('connection', 'flaky');
      return 'ok';
    }, { minDelayMs: 1, jitter: false });
    expect(result).toBe('ok');
    expect(calls).toBe(3);

    calls = 0;
    await expect(retry(async () => { calls++; throw new SwitchboardError('auth', 'no'); }, { minDelayMs: 1 })).rejects.toMatchObject({ code: 'auth' });
    expect(calls).toBe(1);
  });

  test('retry middleware - stops after the retry budget with the last error', async () => {
    let calls = 0;
    await expect(retry(async () => { calls++; throw new SwitchboardError('timeout', `t${calls}`); }, { retries: 2, minDelayMs: 1 })).rejects.toMatchObject({ message: 't3' });
    expect(calls).toBe(3);
  });

  test('retry middleware - an aborted signal ends the wait', async () => {
    const ac = new AbortController();
    const p = retry(async () => { throw new SwitchboardError('connection', 'down'); }, { minDelayMs: 10_000, jitter: false }, ac.signal);
    setTimeout(() => ac.abort(), 20);
    await expect(p).rejects.toMatchObject({ code: 'aborted' });
  });

  test('retry middleware - wraps a producer send', async () => {
    let calls = 0;
    const inner = {
      send: async () => {
        calls++;
        if (calls === 1) throw new SwitchboardError('connection', 'blip');
        return { id: 'a', destination: 'q', confirmed: true, brokerRef: '1' };
      },
      request: async () => { throw new Error('unused'); },
      close: async () => undefined,
      [Symbol.asyncDispose]: async () => undefined,
    } as unknown as Producer;
    const p = withRetry(inner, { minDelayMs: 1 });
    await expect(p.send('q', 'x')).resolves.toMatchObject({ brokerRef: '1' });
    expect(calls).toBe(2);
  });
});

describe('dedup middleware', () => {
  function fakeConsumer(ids: string[]) {
    const acks: string[] = [];
    const nacks: string[] = [];
    const make = (id: string, i: number): Delivery =>
      createDelivery(
        { id, body: new Uint8Array(), key: undefined, headers: {}, attempt: 1, destination: 'q', receipt: String(i), timestamp: new Date() },
        {
          ack: async () => void acks.push(`${id}#${i}`),
          nack: async () => void nacks.push(`${id}#${i}`),
          extend: async () => undefined,
          reject: async () => undefined,
          respond: async () => undefined,
        },
        caps,
      );
    const consumer = createConsumer({
      source: { kind: 'queue', name: 'q' },
      group: 'g',
      startPush: (target) => {
        ids.forEach((id, i) => target.push(make(id, i)));
        return { stop: async () => undefined };
      },
      poll: async (max) => ids.slice(0, max).map(make),
      release: async () => undefined,
      close: async () => undefined,
    });
    return { consumer, acks, nacks };
  }

  test('dedup middleware - a handled id is acked and skipped when it comes again', async () => {
    const { consumer, acks } = fakeConsumer(['a', 'b', 'a', 'c', 'b']);
    const seen: string[] = [];
    const h = withDedup(consumer).consume((d) => void seen.push(d.id));
    await new Promise((r) => setTimeout(r, 50));
    await h.close();
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(acks).toHaveLength(5);
  });

  test('dedup middleware - a failed delivery releases its claim so the redelivery is handled', async () => {
    const { consumer, nacks } = fakeConsumer(['a', 'a']);
    const seen: string[] = [];
    let first = true;
    const h = withDedup(consumer).consume((d) => {
      seen.push(d.id);
      if (first) {
        first = false;
        throw new Error('transient');
      }
    });
    await new Promise((r) => setTimeout(r, 50));
    await h.close();
    expect(seen).toEqual(['a', 'a']);
    expect(nacks).toEqual(['a#0']);
  });

  test('dedup middleware - polling filters duplicates too', async () => {
    const { consumer } = fakeConsumer(['x', 'x', 'y']);
    const got = await withDedup(consumer).poll({ max: 10 });
    expect(got.map((d) => d.id)).toEqual(['x', 'y']);
  });

  test('dedup middleware - the memory store expires entries', async () => {
    let now = 0;
    const store = new MemoryDedupStore(() => now);
    expect(await store.claim('k', 100)).toBe(true);
    expect(await store.claim('k', 100)).toBe(false);
    now = 150;
    expect(await store.claim('k', 100)).toBe(true);
    await store.release('k');
    expect(await store.claim('k', 100)).toBe(true);
  });
});
