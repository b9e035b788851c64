import { HEADERS, SwitchboardError, parseUrl, type Connection, type Delivery } from '@switchboard/core';
import {
  CAPABILITIES_ALL_NATIVE,
  fakeSession,
  type FakeConsumer,
} from './fake-session';
import { defineDriver, DEAD_LETTER_REASON_MAX } from '@switchboard/core/driver';
import { OpenList, type Listed } from '../src/open-list';

async function open(overrides: Parameters<typeof fakeSession>[0] = {}): Promise<{ conn: Connection; fake: ReturnType<typeof fakeSession> }> {
  const fake = fakeSession(overrides);
  const driver = defineDriver({ name: 'fake', displayName: 'fake', package: 'fake', schemes: ['fake-contract'], open: async (_u, _o, host) => fake.bind(host) });
  const conn = await driver.connect(parseUrl('fake-contract://x'), {});
  return { conn, fake };
}

describe('driver contract', () => {
  test('driver contract - a batch with one failed message rejects with the receipts of those that succeeded', async () => {
    const { conn } = await open({ failIndex: 1 });
    const err = await conn.producer().send('queue:q', ['a', 'b', 'c']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwitchboardError);
    expect((err as SwitchboardError).code).toBe('rejected');
    const receipts = (err as SwitchboardError).details.receipts as { id: string; brokerRef: string; destination: string }[];
    expect(receipts.map((r) => r.brokerRef)).toEqual(['ref-0', 'ref-2']);
    expect(receipts.every((r) => r.destination === 'q')).toBe(true);
    await conn.close();
  });

  test('driver contract - a batch answered as a whole gives one receipt per message, in order', async () => {
    const { conn } = await open({ batchForm: 'outcomes' });
    const receipts = await conn.producer().send('queue:q', ['a', 'b', 'c']);
    expect(receipts.map((r) => [r.brokerRef, r.confirmed])).toEqual([
      ['ref-0', true],
      ['ref-1', true],
      ['ref-2', true],
    ]);
    await conn.close();
  });

  test('driver contract - where the broker names messages, a confirmed send without an id takes the reference as its id; given ids, unconfirmed and delayed sends keep theirs', async () => {
    const { conn, fake } = await open({ batchForm: 'outcomes', brokerNamesMessages: true });
    const p = conn.producer();
    const receipts = await p.send('queue:q', ['a', { id: 'mine', body: 'b' }, 'c']);
    expect(receipts.map((r) => [r.id, r.brokerRef])).toEqual([
      ['ref-0', 'ref-0'],
      ['mine', 'ref-1'],
      ['ref-2', 'ref-2'],
    ]);
    const loose = await p.send('queue:q', 'd', { confirm: false });
    expect(loose.id).toBe(fake.published.at(-1)!.id);
    expect(loose.id).not.toMatch(/^ref-/);
    const delayed = await p.send('queue:q', 'e', { delayMs: 50 });
    expect(delayed).toMatchObject({ id: fake.published.at(-1)!.id, brokerRef: 'ref-0' });
    await conn.close();
  });

  test('driver contract - a named outcome gives the receipt its name as id and its reference as brokerRef; a given id stays', async () => {
    const { conn } = await open({ batchForm: 'outcomes', brokerNamesMessages: 'named' });
    const receipts = await conn.producer().send('queue:q', ['a', { id: 'mine', body: 'b' }]);
    expect(receipts.map((r) => [r.id, r.brokerRef])).toEqual([
      ['name-0', 'ref-0'],
      ['mine', 'ref-1'],
    ]);
    await conn.close();
  });

  test('driver contract - without brokerNamesMessages a confirmed send keeps the generated id', async () => {
    const { conn, fake } = await open({ batchForm: 'outcomes' });
    const r = await conn.producer().send('queue:q', 'a');
    expect(r).toMatchObject({ id: fake.published.at(-1)!.id, brokerRef: 'ref-0', confirmed: true });
    await conn.close();
  });

  test('driver contract - a batch answered as a whole with one failed message rejects with the receipts of the others', async () => {
    const { conn } = await open({ batchForm: 'outcomes', failIndex: 1 });
    const err = await conn.producer().send('queue:q', ['a', 'b', 'c']).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'rejected', message: 'nack for message 1' });
    const receipts = (err as SwitchboardError).details.receipts as { brokerRef: string }[];
    expect(receipts.map((r) => r.brokerRef)).toEqual(['ref-0', 'ref-2']);
    await conn.close();
  });

  test('driver contract - a batch that failed as a whole rejects with no receipts; a wrong count of outcomes is an internal error', async () => {
    const rejects = await open({ batchForm: 'rejects' });
    await expect(rejects.conn.producer().send('queue:q', ['a', 'b'])).rejects.toMatchObject({ code: 'connection', details: { receipts: [] } });
    await rejects.conn.close();
    const short = await open({ batchForm: 'short' });
    await expect(short.conn.producer().send('queue:q', ['a', 'b'])).rejects.toMatchObject({ code: 'internal', details: { receipts: [] } });
    await short.conn.close();
  });

  test('driver contract - a failed single send carries details.receipts too (empty)', async () => {
    const { conn } = await open({ failIndex: 0 });
    await expect(conn.producer().send('queue:q', 'a')).rejects.toMatchObject({ code: 'rejected', details: { receipts: [] } });
    await conn.close();
  });

  test('driver contract - a message tells the driver whether core generated its id (a new id, nothing to deduplicate)', async () => {
    const { conn, fake } = await open({});
    const p = conn.producer();
    await p.send('queue:q', ['a', { body: 'b', id: 'given-b' }, { body: 'c' }]);
    await p.send('queue:q', 'd', { id: 'given-d' });
    expect(fake.published.map((m) => [m.id === 'given-b' || m.id === 'given-d' ? m.id : 'generated', m.idGenerated])).toEqual([
      ['generated', true],
      ['given-b', false],
      ['generated', true],
      ['given-d', false],
    ]);
    await conn.close();
  });

  test('driver contract - bad input fails before publish is called', async () => {
    const { conn, fake } = await open({ maxMessageBytes: 8 });
    const p = conn.producer();
    await expect(p.send('queue:q', ['ok', 'far too long for the limit'])).rejects.toMatchObject({ code: 'payload_too_large' });
    await expect(p.send('queue:q', 'x', { bogus: 1 } as never)).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(p.send('queue:bad name', 'x')).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(fake.published).toEqual([]);
    await conn.close();
  });

  test('driver contract - connect fails with connection after connectTimeoutMs and closes a session that opens late', async () => {
    let closed = false;
    const driver = defineDriver({
      name: 'slow',
      displayName: 'slow',
      package: 'slow',
      schemes: ['slow'],
      open: async (_u, _o, host) => {
        await new Promise((r) => setTimeout(r, 300));
        return { ...fakeSession({}).bind(host), close: async () => void (closed = true) };
      },
    });
    await expect(driver.connect(parseUrl('slow://u:secret@h'), { connectTimeoutMs: 50 })).rejects.toMatchObject({ code: 'connection' });
    await new Promise((r) => setTimeout(r, 400));
    expect(closed).toBe(true);
  });

  test('driver contract - an open() that throws at once rejects connect with its error and leaves no timer to fire later', async () => {
    const unhandled = jest.fn();
    process.on('unhandledRejection', unhandled);
    try {
      const bad = defineDriver({
        name: 'bad',
        displayName: 'bad',
        package: 'bad',
        schemes: ['bad'],
        open: () => {
          throw new SwitchboardError('configuration', 'invalid options: 1 problem');
        },
      });
      await expect(bad.connect(parseUrl('bad://h'), { connectTimeoutMs: 30 })).rejects.toMatchObject({ code: 'configuration' });
      await new Promise((r) => setTimeout(r, 100));
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  test('driver contract - what open() rejects with goes through the classifyError of the definition, else becomes connection; SwitchboardErrors pass as they are', async () => {
    const refused = Object.assign(new Error('WRONGPASS invalid username-password pair'), { code: 'WRONGPASS' });
    const def = (fail: () => Promise<never>, classify?: (err: unknown) => SwitchboardError) =>
      defineDriver({ name: 'cls', displayName: 'cls', package: 'cls', schemes: ['cls'], open: fail, ...(classify ? { classifyError: classify } : {}) });
    const classify = (err: unknown) => new SwitchboardError('auth', `cls: credentials refused`, { cause: err });
    const e1 = await def(() => Promise.reject(refused), classify).connect(parseUrl('cls://h'), {}).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(SwitchboardError);
    expect(e1).toMatchObject({ code: 'auth', cause: refused });
    await expect(def(() => Promise.reject(new Error('ECONNREFUSED'))).connect(parseUrl('cls://h'), {})).rejects.toMatchObject({ code: 'connection', message: 'ECONNREFUSED' });
    const own = new SwitchboardError('configuration', 'bad option');
    await expect(def(() => Promise.reject(own), classify).connect(parseUrl('cls://h'), {})).rejects.toBe(own);
  });

  test('driver contract - connectTimeoutMs comes from the code options, else the URL; a bad one is a configuration error', async () => {
    const hang = defineDriver({ name: 'hang', displayName: 'hang', package: 'hang', schemes: ['hang'], open: () => new Promise(() => undefined) });
    const t0 = Date.now();
    await expect(hang.connect(parseUrl('hang://h?connectTimeoutMs=60'), {})).rejects.toMatchObject({ code: 'connection' });
    expect(Date.now() - t0).toBeLessThan(5000);
    await expect(hang.connect(parseUrl('hang://h?connectTimeoutMs=soon'), {})).rejects.toMatchObject({ code: 'configuration', message: expect.stringContaining('connectTimeoutMs') });
    await expect(hang.connect(parseUrl('hang://h?connectTimeoutMs=99999'), { connectTimeoutMs: 30 })).rejects.toMatchObject({ code: 'connection', message: expect.stringContaining('30 ms') });
  });

  test('driver contract - a driver that settles on receipt hands out acked deliveries whatever the ack mode', async () => {
    const { conn, fake } = await open({ settlesOnReceipt: true });
    const c = await conn.consumer('queue:q', { ackTimeoutMs: 30 });
    const it = c.subscribe()[Symbol.asyncIterator]();
    fake.consumers[0]!.push('m1');
    const d = (await it.next()).value!;
    expect(d.state).toBe('acked');
    await d.ack();
    await expect(d.nack()).rejects.toMatchObject({ code: 'already_settled' });
    await new Promise((r) => setTimeout(r, 60));
    await conn.close();
    expect(fake.consumers[0]!.calls).toEqual([['taken', 'm1'], ['close']]);
  });

  test('driver contract - a message past maxAttempts (its last attempt lost to a native deadline) is dead-lettered, not handed out', async () => {
    const { conn, fake } = await open({ nativeDeadline: true });
    const c = await conn.consumer('queue:q', { maxAttempts: 3, ackTimeoutMs: 1000 });
    const it = c.subscribe()[Symbol.asyncIterator]();
    fake.consumers[0]!.push('late', { attempt: 4 });
    fake.consumers[0]!.push('fine', { attempt: 3 });
    const d = (await it.next()).value!;
    expect(d.id).toBe('fine');
    const [call] = fake.consumers[0]!.calls;
    expect(call!.slice(0, 2)).toEqual(['deadLetter', 'late']);
    expect((call![3] as Record<string, string>)[HEADERS.deadLetterAttempts]).toBe('3');
    expect((call![3] as Record<string, string>)[HEADERS.deadLetterReason]).toContain('ack timeout after 1000 ms');
    await conn.close();
  });

  test('driver contract - at-most-once deliveries are reported taken when the application takes them, not when buffered', async () => {
    const { conn, fake } = await open();
    const c = await conn.consumer('queue:q', { ackMode: 'at-most-once' });
    const it = c.subscribe()[Symbol.asyncIterator]();
    fake.consumers[0]!.push('a');
    fake.consumers[0]!.push('b');
    expect(fake.consumers[0]!.calls).toEqual([]);
    await it.next();
    expect(fake.consumers[0]!.calls).toEqual([['taken', 'a']]);
    await it.next();
    expect(fake.consumers[0]!.calls).toEqual([['taken', 'a'], ['taken', 'b']]);
    await conn.close();
  });

  test('driver contract - taken is reported for an at-most-once delivery whose handle is undefined', async () => {
    const { conn, fake } = await open();
    const c = await conn.consumer('queue:q', { ackMode: 'at-most-once' });
    const it = c.subscribe()[Symbol.asyncIterator]();
    fake.consumers[0]!.push('a', { handle: undefined });
    await it.next();
    expect(fake.consumers[0]!.calls).toEqual([['taken', undefined]]);
    await conn.close();
  });

  test('driver contract - an unacked delivery is retried after the emulated ack deadline; extend postpones it', async () => {
    const { conn, fake } = await open();
    const c = await conn.consumer('queue:q', { ackTimeoutMs: 60 });
    const got: string[] = [];
    const sub = c.subscribe();
    const it = sub[Symbol.asyncIterator]();
    const consumer: FakeConsumer = fake.consumers[0]!;
    consumer.push('m1');
    consumer.push('m2');
    const d1 = (await it.next()).value!;
    const d2 = (await it.next()).value!;
    got.push(d1.id, d2.id);
    await d2.extend(400);
    await new Promise((r) => setTimeout(r, 150));
    expect(consumer.calls).toEqual([['retry', 'm1', 0]]);
    await expect(d1.ack()).rejects.toMatchObject({ code: 'timeout' });
    await d2.ack();
    expect(consumer.calls).toEqual([['retry', 'm1', 0], ['ack', 'm2']]);
    await sub.close();
    await conn.close();
  });

  test('driver contract - the last failed attempt is dead-lettered with core\'s header set and a cut reason', async () => {
    const { conn, fake } = await open();
    const c = await conn.consumer('queue:q', { maxAttempts: 2, deadLetter: 'queue:dead' });
    const it = c.subscribe()[Symbol.asyncIterator]();
    fake.consumers[0]!.push('m1', { attempt: 2, headers: { 'x-a': '1' } });
    const d = (await it.next()).value!;
    await d.nack({ reason: 'x'.repeat(DEAD_LETTER_REASON_MAX + 50) });
    const [call] = fake.consumers[0]!.calls;
    expect(call![0]).toBe('deadLetter');
    expect(call![2]).toEqual({ kind: 'queue', name: 'dead' });
    const headers = call![3] as Record<string, string>;
    expect(headers['x-a']).toBe('1');
    expect(headers[HEADERS.deadLetterReason]!.length).toBe(DEAD_LETTER_REASON_MAX);
    expect(headers[HEADERS.deadLetterAttempts]).toBe('2');
    expect(headers[HEADERS.deadLetterSource]).toBe('queue:q');
    expect(headers[HEADERS.deadLetterSourceRef]).toBe('receipt-m1');
    await conn.close();
  });

  test('driver contract - reject dead-letters with "rejected: <reason>" and native extend goes to the driver', async () => {
    const { conn, fake } = await open({ nativeDeadline: true });
    const c = await conn.consumer('queue:q', { ackTimeoutMs: 30 });
    const it = c.subscribe()[Symbol.asyncIterator]();
    fake.consumers[0]!.push('m1');
    const d = (await it.next()).value!;
    await d.extend(1000);
    await new Promise((r) => setTimeout(r, 80));
    await d.reject('bad input');
    const calls = fake.consumers[0]!.calls;
    expect(calls[0]).toEqual(['extend', 'm1', 1000]);
    expect(calls[1]![0]).toBe('deadLetter');
    expect((calls[1]![3] as Record<string, string>)[HEADERS.deadLetterReason]).toBe('rejected: bad input');
    await conn.close();
  });

  test('driver contract - close releases deliveries still held after the grace, and polls over push when the driver has no fetch', async () => {
    const { conn, fake } = await open();
    const c = await conn.consumer('queue:q');
    const polling = c.poll({ max: 5, waitMs: 2000 });
    await new Promise((r) => setTimeout(r, 20));
    fake.consumers[0]!.push('m1');
    fake.consumers[0]!.push('m2');
    const got = await polling;
    expect(got.map((d) => d.id)).toEqual(['m1', 'm2']);
    await got[0]!.ack();
    await c.close();
    expect(fake.consumers[0]!.calls).toEqual([['ack', 'm1'], ['release', 'm2', 'seen'], ['close']]);
    expect(CAPABILITIES_ALL_NATIVE.ackTimeout.level).toBe('native');
  });
});

describe('consume', () => {
  test('consume - deliveries of one key never run at once and finish in arrival order; other keys run beside them', async () => {
    const { conn, fake } = await open();
    const c = await conn.consumer('queue:q');
    const inFlight = new Map<string, number>();
    let overlapSameKey = 0;
    let maxAtOnce = 0;
    let atOnce = 0;
    const done: string[] = [];
    const h = c.consume(async (d) => {
      const k = d.key!;
      inFlight.set(k, (inFlight.get(k) ?? 0) + 1);
      if (inFlight.get(k)! > 1) overlapSameKey++;
      maxAtOnce = Math.max(maxAtOnce, ++atOnce);
      await new Promise((r) => setTimeout(r, d.id.endsWith('1') ? 30 : 5));
      atOnce--;
      inFlight.set(k, inFlight.get(k)! - 1);
      done.push(d.id);
    }, { concurrency: 4 });
    for (const id of ['a1', 'a2', 'a3', 'b1', 'b2']) fake.consumers[0]!.push(id, { key: id[0] });
    for (let i = 0; i < 100 && done.length < 5; i++) await new Promise((r) => setTimeout(r, 10));
    expect(overlapSameKey).toBe(0);
    expect(maxAtOnce).toBe(2);
    expect(done.filter((id) => id.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
    expect(done.filter((id) => id.startsWith('b'))).toEqual(['b1', 'b2']);
    await h.close();
    await conn.close();
  });

  test('consume - arrivals beyond concurrency wait and start in arrival order as slots free; no more than concurrency run at once', async () => {
    const { conn, fake } = await open();
    const c = await conn.consumer('queue:q');
    const started: string[] = [];
    let atOnce = 0;
    let maxAtOnce = 0;
    const h = c.consume(async (d) => {
      started.push(d.id);
      maxAtOnce = Math.max(maxAtOnce, ++atOnce);
      await new Promise((r) => setTimeout(r, 2));
      atOnce--;
    }, { concurrency: 3 });
    const ids = Array.from({ length: 20 }, (_, i) => `m${i}`);
    for (const id of ids) fake.consumers[0]!.push(id);
    // Three start as they arrive, before the pushing code yields.
    expect(started).toEqual(['m0', 'm1', 'm2']);
    for (let i = 0; i < 200 && started.length < ids.length; i++) await new Promise((r) => setTimeout(r, 5));
    expect(started).toEqual(ids);
    expect(maxAtOnce).toBe(3);
    await h.close();
    expect(fake.consumers[0]!.calls.filter((c) => c[0] === 'ack').map((c) => c[1])).toEqual(ids);
    await conn.close();
  });

  test('consume - the slot of an unkeyed delivery frees once its handler is done and the ack is sent; close still waits for the ack', async () => {
    const { conn, fake } = await open({ ackDelayMs: 150 });
    const c = await conn.consumer('queue:q');
    const started: string[] = [];
    const h = c.consume((d) => void started.push(d.id), { concurrency: 1 });
    for (const id of ['a', 'b', 'c']) fake.consumers[0]!.push(id);
    for (let i = 0; i < 50 && started.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
    // All three ran while the first ack was still on its way (each takes 150 ms).
    expect(started).toEqual(['a', 'b', 'c']);
    expect(fake.consumers[0]!.calls.filter(([v]) => v === 'ack')).toEqual([]);
    await h.close();
    expect(fake.consumers[0]!.calls.filter(([v]) => v === 'ack').map(([, id]) => id)).toEqual(['a', 'b', 'c']);
    await conn.close();
  });

  test('consume - close works unbound, on the handle and on the consumer (passed around as a callback)', async () => {
    const { conn, fake } = await open();
    const c = await conn.consumer('queue:q');
    const seen: string[] = [];
    const h = c.consume((d) => void seen.push(d.id));
    fake.consumers[0]!.push('a');
    for (let i = 0; i < 50 && seen.length < 1; i++) await new Promise((r) => setTimeout(r, 5));
    const { close: closeHandle } = h;
    await closeHandle();
    await h.done;
    const { close: closeConsumer } = c;
    await closeConsumer();
    expect(seen).toEqual(['a']);
    expect(fake.consumers[0]!.calls.filter(([v]) => v === 'ack').map(([, id]) => id)).toEqual(['a']);
    await expect(c.poll()).rejects.toMatchObject({ code: 'closed' });
    await conn.close();
  });

  test('consume - a keyed delivery holds its key until its ack is confirmed', async () => {
    const { conn, fake } = await open({ ackDelayMs: 100 });
    const c = await conn.consumer('queue:q');
    const started: [string, number][] = [];
    const h = c.consume((d) => void started.push([d.id, fake.consumers[0]!.calls.filter(([v]) => v === 'ack').length]), { concurrency: 4 });
    for (const id of ['k1', 'k2']) fake.consumers[0]!.push(id, { key: 'k' });
    for (let i = 0; i < 100 && started.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    // k2 started only after k1's ack was confirmed.
    expect(started).toEqual([['k1', 0], ['k2', 1]]);
    await h.close();
    await conn.close();
  });

  test('consume - a handler that returns a thenable (not a native promise) is waited for: no ack before it resolves, a nack when it rejects', async () => {
    const { conn, fake } = await open();
    const c = await conn.consumer('queue:q');
    const pending: { id: string; resolve: () => void; reject: (e: Error) => void }[] = [];
    const h = c.consume((d) => ({
      then(onOk: () => void, onFail: (e: unknown) => void) {
        pending.push({ id: d.id, resolve: onOk, reject: onFail });
      },
    }) as unknown as Promise<void>, { concurrency: 2 });
    fake.consumers[0]!.push('a');
    fake.consumers[0]!.push('b');
    for (let i = 0; i < 50 && pending.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect(pending.map((p) => p.id)).toEqual(['a', 'b']);
    await new Promise((r) => setTimeout(r, 20));
    const settles = () => fake.consumers[0]!.calls.filter(([v]) => v === 'ack' || v === 'retry').map(([v, id]) => `${String(v)} ${String(id)}`);
    expect(settles()).toEqual([]);
    pending[0]!.resolve();
    pending[1]!.reject(new Error('boom'));
    await h.close();
    expect(settles()).toEqual(['ack a', 'retry b']);
    await conn.close();
  });

  test('consume - a thenable that calls back twice, or whose then throws, settles its delivery once and frees its slot once', async () => {
    const { conn, fake } = await open();
    const c = await conn.consumer('queue:q');
    const seen: string[] = [];
    const h = c.consume((d) => {
      seen.push(d.id);
      if (d.id === 'twice') {
        return { then: (ok: () => void, fail: (e: unknown) => void) => (ok(), ok(), fail(new Error('late'))) } as unknown as Promise<void>;
      }
      return {
        then() {
          throw new Error('then threw');
        },
      } as unknown as Promise<void>;
    }, { concurrency: 1 });
    fake.consumers[0]!.push('twice');
    fake.consumers[0]!.push('throws');
    fake.consumers[0]!.push('after');
    for (let i = 0; i < 100 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
    await h.close();
    // With concurrency 1, 'after' ran only once its slot was free, and each delivery was settled once.
    expect(seen).toEqual(['twice', 'throws', 'after']);
    const settles = fake.consumers[0]!.calls.filter(([v]) => v === 'ack' || v === 'retry').map(([v, id]) => `${String(v)} ${String(id)}`);
    expect(settles).toEqual(['ack twice', 'retry throws', 'retry after']);
    await conn.close();
  });

  test('consume - a failed push stream ends done with its error, after the deliveries that arrived before it ran', async () => {
    const { conn, fake } = await open();
    const c = await conn.consumer('queue:q');
    const handled: string[] = [];
    const h = c.consume(async (d) => {
      await new Promise((r) => setTimeout(r, 2));
      handled.push(d.id);
    });
    fake.consumers[0]!.push('a');
    fake.consumers[0]!.push('b');
    fake.consumers[0]!.fail(new SwitchboardError('not_found', 'the queue was deleted'));
    await expect(h.done).rejects.toMatchObject({ code: 'not_found' });
    expect(handled).toEqual(['a', 'b']);
    await conn.close();
  });

  test('consume - a bad concurrency is refused before a subscription opens, so the next consume works', async () => {
    const { conn } = await open();
    const c = await conn.consumer('queue:q');
    expect(() => c.consume(() => undefined, { concurrency: 0 })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    const h = c.consume(() => undefined);
    await h.close();
    await conn.close();
  });
  test('driver contract - close({ timeoutMs }) with a stuck handler hands its delivery back (seen) and resolves; the late ack fails with closed', async () => {
    const { conn, fake } = await open();
    const c = await conn.consumer('queue:q', { ackTimeoutMs: 60_000 });
    let unstick!: () => void;
    const stuck = new Promise<void>((r) => (unstick = r));
    let late: unknown;
    let started = false;
    const h = c.consume(async (d) => {
      started = true;
      await stuck;
      late = await d.ack().catch((e: unknown) => e);
    });
    fake.consumers[0]!.push('m1');
    while (!started) await new Promise((r) => setTimeout(r, 5));
    let resolved = false;
    const closing = conn.close({ timeoutMs: 50 }).then(() => (resolved = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(resolved).toBe(false);
    await closing;
    await h.done;
    expect(fake.consumers[0]!.calls).toContainEqual(['release', 'm1', 'seen']);
    expect(fake.consumers[0]!.calls.some((x) => x[0] === 'ack')).toBe(false);
    unstick();
    await new Promise((r) => setTimeout(r, 10));
    expect(late).toMatchObject({ code: 'closed' });
  });

  test('driver contract - a second close with a shorter timeoutMs cuts the wait; a bad timeoutMs is invalid_argument', async () => {
    const { conn, fake } = await open();
    const c = await conn.consumer('queue:q');
    c.consume(() => new Promise<void>(() => undefined));
    fake.consumers[0]!.push('m1');
    await new Promise((r) => setTimeout(r, 10));
    await expect(c.close({ timeoutMs: -1 })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(c.close({ timeoutMs: 'soon' } as never)).rejects.toMatchObject({ code: 'invalid_argument' });
    void c.close({ timeoutMs: 60_000 });
    await c.close({ timeoutMs: 0 });
    expect(fake.consumers[0]!.calls).toContainEqual(['release', 'm1', 'seen']);
    await conn.close();
  });
  test('driver contract - a source whose default dead-letter name is invalid says so and names the deadLetter option', async () => {
    const { conn } = await open();
    const name = 'a'.repeat(18); // fits the fake's 20 characters; "<name>-dlq" does not
    await expect(conn.consumer(`queue:${name}`)).rejects.toMatchObject({ code: 'invalid_argument', message: expect.stringContaining('pass the deadLetter option') });
    await expect(conn.consumer(`queue:${name}`, { deadLetter: 'queue:dead' })).resolves.toBeDefined();
    await conn.close();
  });
  test('driver contract - connection.limits shows the session limits an application can check against', async () => {
    const { conn } = await open({ maxMessageBytes: 64 });
    expect(conn.limits).toEqual({ maxMessageBytes: 64 });
    await conn.close();
  });
});

describe('entry points - what each public entry exports', () => {
  test('entry points - neither the application entry nor the driver entry re-exports zod', async () => {
    const app = await import('@switchboard/core');
    const drv = await import('@switchboard/core/driver');
    expect(app).not.toHaveProperty('z');
    expect(drv).not.toHaveProperty('z');
    expect(drv).toHaveProperty('validateOptions');
  });
});

describe('deliveries - one object each, one deadline timer per consumer', () => {
  test('deliveries - 1000 open deliveries with emulated deadlines arm a handful of timers, not one each', async () => {
    const { conn, fake } = await open();
    const c = await conn.consumer('queue:q', { ackTimeoutMs: 60_000, prefetch: 1000 });
    const it = c.subscribe()[Symbol.asyncIterator]();
    const spy = jest.spyOn(global, 'setTimeout');
    try {
      const got: Delivery[] = [];
      for (let i = 0; i < 1000; i++) fake.consumers[0]!.push(`m${i}`);
      for (let i = 0; i < 1000; i++) got.push((await it.next()).value!);
      for (const d of got) await d.ack();
      expect(spy.mock.calls.length).toBeLessThan(5);
    } finally {
      spy.mockRestore();
    }
    expect(fake.consumers[0]!.calls.filter(([v]) => v === 'ack')).toHaveLength(1000);
    await conn.close();
  });

  test('deliveries - deadlines expire in deadline order, whatever order extend left them in', async () => {
    const { conn, fake } = await open();
    const c = await conn.consumer('queue:q', { ackTimeoutMs: 80 });
    const it = c.subscribe()[Symbol.asyncIterator]();
    for (const id of ['a', 'b', 'c']) fake.consumers[0]!.push(id);
    const [a, b] = [(await it.next()).value!, (await it.next()).value!];
    await (await it.next()).value!.ack();
    await a.extend(300); // a now after b
    await b.extend(20); // b sooner than it was
    await new Promise((r) => setTimeout(r, 150));
    expect(fake.consumers[0]!.calls).toEqual([['ack', 'c'], ['retry', 'b', 0]]);
    await new Promise((r) => setTimeout(r, 250));
    expect(fake.consumers[0]!.calls).toEqual([['ack', 'c'], ['retry', 'b', 0], ['retry', 'a', 0]]);
    await conn.close();
  });

  test('deliveries - a wrapper made with Object.create settles the delivery it wraps; a spread copies the data', async () => {
    const { conn, fake } = await open();
    const c = await conn.consumer('queue:q');
    const it = c.subscribe()[Symbol.asyncIterator]();
    fake.consumers[0]!.push('w', { key: 'k', headers: { h: '1' } });
    const d = (await it.next()).value!;
    const wrapped = Object.create(d, { data: { value: 42, enumerable: true } }) as Delivery & { data: number };
    expect(wrapped.id).toBe('w');
    await wrapped.ack();
    expect(d.state).toBe('acked');
    expect(wrapped.state).toBe('acked');
    await expect(wrapped.nack()).rejects.toMatchObject({ code: 'already_settled' });
    expect({ ...d }).toMatchObject({ id: 'w', key: 'k', headers: { h: '1' }, attempt: 1, destination: 'q' });
    expect(JSON.parse(JSON.stringify(d))).toMatchObject({ id: 'w', receipt: 'receipt-w' });
    expect(fake.consumers[0]!.calls).toEqual([['ack', 'w']]);
    await conn.close();
  });

  test('deliveries - acks in flight wait off the deadline list: a new delivery is listed at its tail without walking past them', async () => {
    const { conn, fake } = await open({ ackDelayMs: 100 });
    const c = await conn.consumer('queue:q', { ackTimeoutMs: 60_000, prefetch: 1000 });
    const it = c.subscribe()[Symbol.asyncIterator]();
    for (let i = 0; i < 300; i++) fake.consumers[0]!.push(`m${i}`);
    const got: Delivery[] = [];
    for (let i = 0; i < 300; i++) got.push((await it.next()).value!);
    // Insertion searches from the tail past every later deadline: count how many it passed.
    const walked: number[] = [];
    const add = OpenList.prototype.add;
    const spy = jest.spyOn(OpenList.prototype, 'add').mockImplementation(function <T extends Listed<T>>(this: OpenList<T>, t: T) {
      add.call(this, t);
      let after = 0;
      for (let x = t.next; x; x = x.next) after++;
      walked.push(after);
    });
    try {
      const acks = got.map((d) => d.ack());
      fake.consumers[0]!.push('late');
      expect((await it.next()).value!.id).toBe('late');
      await Promise.all(acks);
    } finally {
      spy.mockRestore();
    }
    // 300 deliveries went to the settling list, and 'late' to the open list's tail.
    expect(walked).toHaveLength(301);
    expect(Math.max(...walked)).toBe(0);
    await conn.close();
  });

  test.each([
    ['rejects', false],
    ['throws at once', true],
  ])('deliveries - when the driver\'s ack %s, the delivery is pending again with its ack deadline running: a second ack works, and without one the deadline hands it back', async (_how, sync) => {
    const { conn, fake } = await open({ failAcks: { once: ['m1', 'm2'], sync } });
    const c = await conn.consumer('queue:q', { ackTimeoutMs: 150 });
    const it = c.subscribe()[Symbol.asyncIterator]();
    fake.consumers[0]!.push('m1');
    fake.consumers[0]!.push('m2');
    const d1 = (await it.next()).value!;
    const d2 = (await it.next()).value!;
    await expect(d1.ack()).rejects.toMatchObject({ code: 'connection' });
    expect(d1.state).toBe('pending');
    await d1.ack();
    expect(d1.state).toBe('acked');
    await expect(d2.ack()).rejects.toMatchObject({ code: 'connection' });
    expect(d2.state).toBe('pending');
    await new Promise((r) => setTimeout(r, 400));
    expect(fake.consumers[0]!.calls).toEqual([['ack failed', 'm1'], ['ack', 'm1'], ['ack failed', 'm2'], ['retry', 'm2', 0]]);
    await expect(d2.ack()).rejects.toMatchObject({ code: 'timeout' });
    await conn.close();
  });

  test('deliveries - close waits for a settle in flight (the delivery is still open) before closing the driver', async () => {
    const { conn, fake } = await open({ ackDelayMs: 200 });
    const c = await conn.consumer('queue:q');
    const it = c.subscribe()[Symbol.asyncIterator]();
    fake.consumers[0]!.push('slow');
    const slow = (await it.next()).value!;
    const acking = slow.ack();
    await c.close();
    await acking;
    const calls = fake.consumers[0]!.calls;
    expect(calls).toContainEqual(['ack', 'slow']);
    expect(calls).not.toContainEqual(['release', 'slow', 'seen']);
    expect(calls.findIndex(([v, h]) => v === 'ack' && h === 'slow')).toBeLessThan(calls.findIndex(([v]) => v === 'close'));
    await conn.close();
  });
});
