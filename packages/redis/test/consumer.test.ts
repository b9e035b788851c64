import { queue, topic, type Destination } from '@switchboard/core';
import { resolveConsumerOptions } from '@switchboard/core/driver';
import { classifyError } from '../src/classify-error';
import { openRedisConsumer, type RedisHandle } from '../src/consumer';
import { resolveRedisOptions } from '../src/options';
import type { RedisLink } from '../src/session';
import { parseUrl } from '@switchboard/core';

interface Sent {
  readonly args: string[];
  /** The connection it went on: the shared one, or the one for acks. */
  readonly via: 'cmd' | 'ackCmd';
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/**
 * A link whose commands wait until the test answers them; XGROUP and SET answer at once, EVAL
 * (claims) with nothing. The blocking reader answers its reads from `reads`, then waits for ever.
 */
function fakeLink(reads: unknown[] = []) {
  const sent: Sent[] = [];
  const readArgs: string[][] = [];
  const send =
    (via: Sent['via']) =>
    <T>(args: readonly (string | Uint8Array)[]) =>
      new Promise<T>((resolve, reject) => {
        const a = args.map(String);
        if (a[0] === 'XGROUP' || a[0] === 'SET') return resolve('OK' as T);
        if (a[0] === 'EVAL') return resolve([] as T);
        sent.push({ args: a, via, resolve: resolve as (v: unknown) => void, reject });
      });
  const link: RedisLink = {
    options: resolveRedisOptions(parseUrl('redis://127.0.0.1:6379')),
    cmd: send('cmd'),
    ackCmd: send('ackCmd'),
    blockingClient: async () => ({
      id: 1,
      cmd: <T>(args: readonly (string | Uint8Array)[]) => {
        readArgs.push(args.map(String));
        return reads.length > 0 ? Promise.resolve(reads.shift() as T) : new Promise<T>(() => undefined);
      },
      close: async () => undefined,
    }),
    classify: classifyError,
    report: () => undefined,
    moveDelayed: async () => undefined,
  };
  return { link, sent, readArgs, of: (cmd: string) => sent.filter((s) => s.args[0] === cmd) };
}

const handle = (entryId: string): RedisHandle => ({ entryId, fields: [], attempt: 1 });
const turn = () => new Promise((r) => setImmediate(r));
const open = (link: RedisLink, d: Destination) => openRedisConsumer(link, d, resolveConsumerOptions(d, { group: 'g' }));

describe('consumer - acks', () => {
  test('acks - the acks of one turn go out as one XACK and one XDEL with every entry id, on the connection for acks, and resolve only once Redis replied to both', async () => {
    const f = fakeLink();
    const driver = await open(f.link, queue('q'));
    let done = 0;
    const acks = ['1-0', '1-1', '2-0'].map((id) => driver.ack(handle(id)).then(() => done++));
    await turn();
    expect(f.of('XACK').map((s) => s.args)).toEqual([['XACK', 'sb:q:q', 'sb', '1-0', '1-1', '2-0']]);
    expect(f.of('XDEL').map((s) => s.args)).toEqual([['XDEL', 'sb:q:q', '1-0', '1-1', '2-0']]);
    // On the acks' own connection, not behind the sends queued on the shared one.
    expect([...f.of('XACK'), ...f.of('XDEL')].map((s) => s.via)).toEqual(['ackCmd', 'ackCmd']);
    f.of('XACK')[0]!.resolve(3);
    await turn();
    expect(done).toBe(0);
    f.of('XDEL')[0]!.resolve(3);
    await Promise.all(acks);
    expect(done).toBe(3);
  });

  test('acks - a failed XACK rejects every ack of its batch; a later turn starts a new batch', async () => {
    const f = fakeLink();
    const driver = await open(f.link, topic('t'));
    const acks = ['5-0', '6-0'].map((id) => driver.ack(handle(id)));
    await turn();
    expect(f.of('XDEL')).toHaveLength(0);
    f.of('XACK')[0]!.reject(new Error('NOGROUP No such key'));
    for (const a of acks) await expect(a).rejects.toThrow('NOGROUP');
    const again = driver.ack(handle('7-0'));
    await turn();
    expect(f.of('XACK').map((s) => s.args.slice(3))).toEqual([['5-0', '6-0'], ['7-0']]);
    f.of('XACK')[1]!.resolve(1);
    await again;
  });
});

describe('consumer - reads', () => {
  test('reads - once every held delivery has its ack on the way, the member reads again without waiting for the XACK reply', async () => {
    const entries = ['1-0', '1-1', '1-2', '1-3'].map((id) => [Buffer.from(id), [Buffer.from('body'), Buffer.from(id)]]);
    const f = fakeLink([[[Buffer.from('sb:q:q'), entries]]]);
    const d = queue('q');
    const driver = await openRedisConsumer(f.link, d, resolveConsumerOptions(d, { prefetch: 4 }));
    const got: RedisHandle[] = [];
    driver.start({ deliver: (m) => got.push(m.handle), fail: () => undefined });
    while (got.length < 4) await turn();
    expect(f.readArgs).toHaveLength(1);
    expect(f.readArgs[0]).toEqual(expect.arrayContaining(['COUNT', '4']));
    const acks = got.map((h) => driver.ack(h));
    await turn();
    await turn();
    // The XACK has not been answered, yet the next read (for the whole window) is out.
    expect(f.of('XACK')).toHaveLength(1);
    expect(f.readArgs).toHaveLength(2);
    expect(f.readArgs[1]).toEqual(expect.arrayContaining(['COUNT', '4']));
    f.of('XACK')[0]!.resolve(4);
    f.of('XDEL')[0]!.resolve(4);
    await Promise.all(acks);
    await driver.stop();
  });
});

describe('consumer - fetch', () => {
  const entries = (...ids: string[]) => [[Buffer.from('sb:q:q'), ids.map((id) => [Buffer.from(id), [Buffer.from('body'), Buffer.from(id)]])]];

  test('fetch - a poll reads XREADGROUP COUNT max itself: without BLOCK when it may not wait, with BLOCK for the wait otherwise', async () => {
    const f = fakeLink([entries('1-0', '1-1'), entries('2-0')]);
    const d = queue('q');
    const driver = await openRedisConsumer(f.link, d, resolveConsumerOptions(d, { prefetch: 8 }));
    const now = await driver.fetch!(3, 0, undefined);
    expect(now.map((m) => m.receipt)).toEqual(['1-0', '1-1']);
    expect(f.readArgs[0]).toEqual(['XREADGROUP', 'GROUP', 'sb', expect.any(String), 'COUNT', '3', 'STREAMS', 'sb:q:q', '>']);
    const waited = await driver.fetch!(10, 5000, undefined);
    expect(waited.map((m) => m.attempt)).toEqual([1]);
    expect(f.readArgs[1]!.slice(4, 8)).toEqual(['COUNT', '6', 'BLOCK', expect.stringMatching(/^(4\d{3}|5000)$/)]);
    await driver.close();
  });

  test('fetch - a poll with the prefetch window full reads nothing', async () => {
    const f = fakeLink([entries('1-0', '1-1')]);
    const d = queue('q');
    const driver = await openRedisConsumer(f.link, d, resolveConsumerOptions(d, { prefetch: 2 }));
    expect(await driver.fetch!(5, 0, undefined)).toHaveLength(2);
    expect(await driver.fetch!(5, 0, undefined)).toEqual([]);
    expect(f.readArgs).toHaveLength(1);
    await driver.close();
  });
});
