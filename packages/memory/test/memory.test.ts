import { connect, HEADERS, registerDriver, type ErrorEvent } from '@switchboard/core';
import { z } from 'zod';
import { connectMemory, driver, MemoryBroker } from '@switchboard/memory';
import { FLOW_BACKLOG } from '../src/broker';

registerDriver(driver);

describe('memory', () => {
  test('memory - connections with the same name share a broker; other names do not', async () => {
    const a = await connect('memory://shared-a');
    const b = await connect('memory://shared-a');
    const other = await connect('memory://shared-b');
    await a.producer().send('q', 'hello');
    const [got] = await (await b.consumer('q')).poll({ max: 1, waitMs: 500 });
    expect(got?.text()).toBe('hello');
    expect(await (await other.consumer('q')).poll({ max: 1 })).toEqual([]);
    await Promise.all([a.close(), b.close(), other.close()]);
  });

  test('memory - URL options are validated, all problems at once', async () => {
    await expect(connect('memory://x?maxMessageBytes=-1&nope=1')).rejects.toMatchObject({
      code: 'configuration',
      details: { problems: expect.arrayContaining([expect.stringContaining('maxMessageBytes'), expect.stringContaining('nope')]) },
    });
  });

  test('memory - maxMessageBytes is enforced before anything is stored', async () => {
    const conn = await connectMemory({ broker: new MemoryBroker({ maxMessageBytes: 10 }) });
    const c = await conn.consumer('q');
    await expect(conn.producer().send('q', ['ok', 'this is too long'])).rejects.toMatchObject({ code: 'payload_too_large' });
    expect(await c.poll({ max: 5 })).toEqual([]);
    await conn.close();
  });

  test('memory - a handler that always fails does not starve timers', async () => {
    const conn = await connectMemory({ broker: new MemoryBroker() });
    let attempts = 0;
    const h = (await conn.consumer('spin')).consume(() => {
      attempts++;
      throw new Error('always');
    });
    await conn.producer().send('spin', 'x');
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 50));
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(attempts).toBeGreaterThan(1);
    await h.close();
    await conn.close();
  });

  test('memory - retention drops the oldest records', async () => {
    const conn = await connectMemory({ broker: new MemoryBroker({ retentionMessages: 3 }) });
    const p = conn.producer();
    for (let i = 0; i < 6; i++) await p.send('topic:t', String(i));
    const got = await (await conn.consumer('topic:t', { group: 'g', from: 'earliest' })).poll({ max: 10 });
    expect(got.map((d) => d.text())).toEqual(['3', '4', '5']);
    await conn.close();
  });
  test('memory - draining a queue with a long backlog moves each record at most about twice (trimming is not quadratic)', async () => {
    const broker = new MemoryBroker();
    const conn = await connectMemory({ broker });
    const n = 60_000;
    const p = conn.producer();
    for (let i = 0; i < n; i += 1000) await p.send('long', Array.from({ length: 1000 }, (_, j) => String(i + j)));
    const log = broker.log({ kind: 'queue', name: 'long' });
    let seen = 0;
    let trimmedAtOnce = true;
    await new Promise<void>((resolve) => {
      void conn.consumer('long').then((c) =>
        c.consume(async (d) => {
          await d.ack();
          // Released as soon as it is done, not in the next batch of 1024.
          if (log.get(Number(d.position)) !== undefined) trimmedAtOnce = false;
          if (++seen === n) resolve();
        }),
      );
    });
    expect(trimmedAtOnce).toBe(true);
    // Cutting the array every 1024 acks moved about n * n / 2048 = 1.76M records here.
    expect(log.movedByTrim).toBeLessThanOrEqual(2 * n);
    await conn.close();
  }, 60_000);

  test('memory - a queue never drops what no one consumed: a send past retentionMessages is refused whole with rejected', async () => {
    const conn = await connectMemory({ broker: new MemoryBroker({ retentionMessages: 3 }) });
    const p = conn.producer();
    await p.send('full', ['0', '1']);
    await expect(p.send('full', ['2', '3'])).rejects.toMatchObject({ code: 'rejected', retryable: true, message: expect.stringContaining('retentionMessages (3)') });
    await p.send('full', '2');
    await expect(p.send('full', '3')).rejects.toMatchObject({ code: 'rejected' });
    const c = await conn.consumer('full');
    const got = await c.poll({ max: 10 });
    expect(got.map((d) => d.text())).toEqual(['0', '1', '2']);
    for (const d of got) await d.ack();
    await p.send('full', ['3', '4', '5']); // room again once they are done
    expect((await c.poll({ max: 10 })).map((d) => d.text())).toEqual(['3', '4', '5']);
    await conn.close();
  });

  test('memory - a copy stored without the limit (a dead letter) past retentionMessages does not push out unconsumed messages of a queue', async () => {
    const broker = new MemoryBroker({ retentionMessages: 3 });
    const conn = await connectMemory({ broker });
    const copies = ['a', 'b', 'c', 'd', 'e'].map((body) => ({ id: body, body: new TextEncoder().encode(body), key: undefined, headers: {}, delayMs: undefined }));
    broker.append({ kind: 'queue', name: 'dlq' }, copies, { dedup: false });
    const got = await (await conn.consumer('dlq')).poll({ max: 10 });
    expect(got.map((d) => d.text())).toEqual(['a', 'b', 'c', 'd', 'e']);
    await conn.close();
  });

  test('memory - flow control: a producer sending in a tight loop does not keep a consumer with room from running', async () => {
    const conn = await connectMemory({ broker: new MemoryBroker() });
    let received = 0;
    const h = (await conn.consumer('flood', { prefetch: 100 })).consume(async () => void received++);
    const p = conn.producer();
    // Each send resolves without I/O; without flow control the loop never yields to the consumer.
    for (let i = 0; i < FLOW_BACKLOG * 3; i++) await p.send('flood', String(i));
    expect(received).toBeGreaterThan(FLOW_BACKLOG);
    await h.close();
    await conn.close();
  });

  test('memory - the dedup window remembers only ids the sender gave: a generated id cannot come again', async () => {
    const broker = new MemoryBroker();
    const conn = await connectMemory({ broker });
    const p = conn.producer();
    await p.send('ids', ['a', 'b', 'c']);
    expect(broker.log({ kind: 'queue', name: 'ids' }).dedupSize).toBe(0);
    await p.send('ids', [{ id: 'x', body: 'x' }, { id: 'y', body: 'y' }]);
    await p.send('ids', { id: 'x', body: 'x again' });
    expect(broker.log({ kind: 'queue', name: 'ids' }).dedupSize).toBe(2);
    const got = await (await conn.consumer('ids')).poll({ max: 10 });
    expect(got.map((d) => d.text())).toEqual(['a', 'b', 'c', 'x', 'y']);
    await conn.close();
  });

  test('memory - the dedup window holds at most dedupWindowSize ids, the oldest leaving first', async () => {
    const broker = new MemoryBroker({ dedupWindowSize: 3 });
    const conn = await connectMemory({ broker });
    const p = conn.producer();
    for (const id of ['a', 'b', 'c', 'd']) await p.send('q', { id, body: id });
    expect(broker.log({ kind: 'queue', name: 'q' }).dedupSize).toBe(3);
    await p.send('q', { id: 'd', body: 'd again' }); // still in the window: not stored
    await p.send('q', { id: 'a', body: 'a again' }); // pushed out by d: stored again
    const got = await (await conn.consumer('q')).poll({ max: 10 });
    expect(got.map((d) => d.text())).toEqual(['a', 'b', 'c', 'd', 'a again']);
    await conn.close();
  });

  test('memory - expired dedup ids are dropped as new ones arrive, without a full sweep', async () => {
    const broker = new MemoryBroker({ dedupWindowMs: 20 });
    const conn = await connectMemory({ broker });
    const p = conn.producer();
    await p.send('q', Array.from({ length: 100 }, (_, i) => ({ id: `old-${i}`, body: 'x' })));
    await new Promise((r) => setTimeout(r, 40));
    await p.send('q', { id: 'new', body: 'x' });
    expect(broker.log({ kind: 'queue', name: 'q' }).dedupSize).toBe(1);
    await conn.close();
  });
});

describe('memory typed consumers', () => {
  const order = z.object({ sku: z.string().min(1), qty: z.number().int().positive() });

  test('typed consumer - d.data is the validated value; an invalid message goes to the dead letters with the issues, never to the handler', async () => {
    const events: ErrorEvent[] = [];
    const conn = await connect('memory://typed-1', { onError: (e) => void events.push(e) });
    const c = await conn.consumer('orders', { schema: order });
    const seen: { sku: string; qty: number }[] = [];
    const h = c.consume((d) => {
      seen.push(d.data);
    });
    const p = conn.producer();
    await p.send('orders', [JSON.stringify({ sku: 'A-1', qty: 2 }), JSON.stringify({ sku: '', qty: 1.5 }), 'not json', JSON.stringify({ sku: 'B-2', qty: 1 })]);
    const dlq = await conn.consumer('orders-dlq');
    const dead = [];
    for (let i = 0; i < 50 && dead.length < 2; i++) dead.push(...(await dlq.poll({ max: 10, waitMs: 100 })));
    expect(seen).toEqual([{ sku: 'A-1', qty: 2 }, { sku: 'B-2', qty: 1 }]);
    expect(dead).toHaveLength(2);
    const reasons = dead.map((d) => d.headers[HEADERS.deadLetterReason]);
    expect(reasons[0]).toMatch(/^rejected: schema: sku: .+; qty: .+/);
    expect(reasons[1]).toMatch(/^rejected: schema: the body could not be decoded/);
    expect(dead.map((d) => d.headers[HEADERS.deadLetterAttempts])).toEqual(['1', '1']);
    expect(events.filter((e) => e.origin === 'schema')).toHaveLength(2);
    await h.close();
    await conn.close();
  });

  test('typed consumer - subscribe and poll skip invalid messages the same way', async () => {
    const conn = await connect('memory://typed-2');
    const c = await conn.consumer('orders', { schema: order });
    await conn.producer().send('orders', [JSON.stringify({ sku: 'x' }), JSON.stringify({ sku: 'A', qty: 3 })]);
    const got = await c.poll({ max: 10, waitMs: 200 });
    expect(got.map((d) => d.data)).toEqual([{ sku: 'A', qty: 3 }]);
    await got[0]!.ack();
    await conn.close();
  });

  test('typed consumer - a schema that is not a Standard Schema is a configuration error', async () => {
    const conn = await connect('memory://typed-3');
    await expect(conn.consumer('orders', { schema: { parse: () => 1 } as never })).rejects.toMatchObject({ code: 'configuration', message: expect.stringContaining('Standard Schema') });
    await conn.close();
  });
});

describe('memory typed producers', () => {
  const order = z.object({ sku: z.string().min(1), qty: z.number().int().positive(), note: z.string().default('none') });

  test('typed producer - values are validated and encoded with the schema output; a typed consumer reads them back', async () => {
    const conn = await connect('memory://typed-p1');
    const orders = conn.producer({ schema: order });
    const c = await conn.consumer('orders', { schema: order });
    const r = await orders.send('orders', { sku: 'A-1', qty: 2, note: 'gift' });
    expect(r.confirmed).toBe(true);
    const batch = await orders.sendBatch('orders', [{ data: { sku: 'B-2', qty: 1 } as never, key: 'b' }, { data: { sku: 'C-3', qty: 3, note: 'x' }, headers: { h: '1' } }]);
    expect(batch).toHaveLength(2);
    const got = await c.poll({ max: 10, waitMs: 200 });
    expect(got.map((d) => d.data)).toEqual([
      { sku: 'A-1', qty: 2, note: 'gift' },
      { sku: 'B-2', qty: 1, note: 'none' },
      { sku: 'C-3', qty: 3, note: 'x' },
    ]);
    expect(got[1]!.key).toBe('b');
    expect(got[2]!.headers.h).toBe('1');
    await conn.close();
  });

  test('typed producer - an invalid value is invalid_argument with the issues, and nothing of the batch is sent', async () => {
    const conn = await connect('memory://typed-p2');
    const orders = conn.producer({ schema: order });
    const err = await orders.send('orders', { sku: '', qty: 1.5 } as never).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'invalid_argument', message: expect.stringMatching(/sku: .+; qty: .+/), details: { issues: [expect.objectContaining({ path: ['sku'] }), expect.objectContaining({ path: ['qty'] })] } });
    const batchErr = await orders.sendBatch('orders', [{ data: { sku: 'ok', qty: 1 } }, { data: { sku: 'bad', qty: -1 } }]).catch((e: unknown) => e);
    expect(batchErr).toMatchObject({ code: 'invalid_argument', message: expect.stringContaining('message 1:'), details: { index: 1 } });
    const c = await conn.consumer('orders');
    expect(await c.poll({ max: 10, waitMs: 100 })).toEqual([]);
    await conn.close();
  });

  test('typed producer - producer options are checked: a non-schema is invalid_argument', async () => {
    const conn = await connect('memory://typed-p3');
    expect(() => conn.producer({ schema: { parse: () => 1 } as never })).toThrow(expect.objectContaining({ code: 'invalid_argument', message: expect.stringContaining('Standard Schema') }));
    expect(() => conn.producer({ schema: order, bogus: 1 } as never)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    await conn.close();
  });
});

describe('memory tracing without an SDK', () => {
  test('tracing - without an OpenTelemetry SDK nothing is added to messages', async () => {
    const conn = await connect('memory://untraced');
    const c = await conn.consumer('q');
    await conn.producer().send('q', { body: 'x', headers: { a: '1' } });
    const [d] = await c.poll({ max: 1, waitMs: 500 });
    expect(d!.headers).toEqual({ a: '1' });
    await d!.ack();
    await conn.close();
  });
});

describe('memory options', () => {
  test('memory - unknown or malformed code options are a configuration error listing each', async () => {
    // @ts-expect-error: a misspelt option is a type error too (no index signature on the options)
    await expect(connect('memory://opts', { memory: { retentionMesages: 10, dedupWindowMs: -1 } })).rejects.toMatchObject({
      code: 'configuration',
      details: { problems: expect.arrayContaining([expect.stringContaining('retentionMesages'), expect.stringContaining('dedupWindowMs')]) },
    });
  });

  test('memory - options under the backend name reach the driver; other backends\' entries are left to them', async () => {
    const conn = await connect('memory://by-name', { memory: { maxMessageBytes: 100 }, kafka: { clientId: 'app' } as never });
    expect(conn.limits.maxMessageBytes).toBe(100);
    await conn.close();
  });

  test('memory - a flat backend option is a type error and a configuration error that says where it goes', async () => {
    // @ts-expect-error: backend options go under the backend's name
    const err = await connect('memory://flat', { maxMessageBytes: 100 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'configuration', details: { problems: [expect.stringContaining('{ memory: { maxMessageBytes')] } });
    // @ts-expect-error: a misspelt common option
    await expect(connect('memory://flat', { conectTimeoutMs: 5 })).rejects.toMatchObject({ code: 'configuration' });
  });
});

describe('memory admin', () => {
  test('admin - listObjects shows a topic and its groups; deleteGroup drops one group, deleteDestination everything', async () => {
    const conn = await connect('memory://admin-1');
    const a = await conn.consumer('topic:events', { group: 'a' });
    const b = await conn.consumer('topic:events', { group: 'b' });
    expect(await conn.admin.listObjects('topic:events')).toEqual([
      { type: 'topic', name: 'events' },
      { type: 'group', name: 'a', group: 'a' },
      { type: 'group', name: 'b', group: 'b' },
    ]);
    await a.close();
    await conn.admin.deleteGroup('topic:events', 'a');
    await conn.admin.deleteGroup('topic:events', 'a');
    expect((await conn.admin.listObjects('topic:events')).map((o) => o.name)).toEqual(['events', 'b']);
    await b.close();
    await conn.admin.deleteDestination('topic:events');
    expect(await conn.admin.listObjects('topic:events')).toEqual([]);
    await expect(conn.admin.deleteGroup('topic:events', '')).rejects.toMatchObject({ code: 'invalid_argument' });
    await conn.close();
  });
});
