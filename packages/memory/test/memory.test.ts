import { connect, registerDriver } from '@switchboard/core';
import { connectMemory, driver, MemoryBroker } from '@switchboard/memory';

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
