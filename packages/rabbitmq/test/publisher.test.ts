import { EventEmitter } from 'node:events';
import { Publisher } from '../src/channels';
import type { Link } from '../src/link';

/** A confirm channel as far as the publisher uses it: confirms each publish on the next tick, refuses one marked `refuse`. */
class FakeConfirmChannel extends EventEmitter {
  published = 0;
  /** The bodies in the order they went out. */
  order: string[] = [];
  /** Report a full write buffer (amqplib's publish returns false; 'drain' comes later). */
  full = false;
  closed = false;
  /** Nack every publish (a channel stuck on a dead quorum-queue leader). */
  nackAll = false;
  publish(_x: string, _rk: string, _c: Buffer, o: { headers?: Record<string, unknown> }, cb?: (err: unknown) => void): boolean {
    if (o.headers?.refuse) throw new RangeError('Encoded field table (headers or arguments) exceeds the 65536 byte encoding buffer');
    this.published++;
    this.order.push(_c.toString());
    const nack = this.nackAll;
    if (cb) setImmediate(() => cb(nack ? new Error('message nacked') : null));
    return !this.full;
  }
  waitForConfirmsCalls = 0;
  /** Like amqplib's: fails when the channel closes with confirms outstanding (a caller must handle it). */
  waitForConfirms = () => {
    this.waitForConfirmsCalls++;
    return Promise.resolve();
  };
  close = async () => void (this.closed = true);
}

/** A publisher whose every channel is `ch`. */
function publisherOver(ch: FakeConfirmChannel): Publisher {
  const link = { generation: 1, isOpen: true, options: { sendTimeoutMs: 1000 }, current: async () => ({ createConfirmChannel: async () => ch }) } as unknown as Link;
  return new Publisher(link);
}

describe('publisher - confirm sequence', () => {
  it('a publish amqplib refuses while encoding fails as payload_too_large and takes no sequence number', async () => {
    const ch = new FakeConfirmChannel();
    const p = publisherOver(ch);
    expect(await p.publish('', 'q', Buffer.from('a'), {}, true)).toBe('1.1');
    await expect(p.publish('', 'q', Buffer.from('b'), { headers: { refuse: 1 } }, true)).rejects.toMatchObject({ code: 'payload_too_large' });
    // The broker numbered only what went out: the next confirm is its 2nd publish.
    expect(await p.publish('', 'q', Buffer.from('c'), {}, true)).toBe('1.2');
    expect(ch.published).toBe(2);
  });
});

/** A publisher whose first channel nacks everything and whose second works. */
function stuckThenFresh() {
  const stuck = new FakeConfirmChannel();
  stuck.nackAll = true;
  const fresh = new FakeConfirmChannel();
  const opened = [stuck, fresh];
  const link = { generation: 1, isOpen: true, options: { sendTimeoutMs: 1000 }, current: async () => ({ createConfirmChannel: async () => opened.shift()! }) } as unknown as Link;
  return { stuck, fresh, p: new Publisher(link) };
}

describe('publisher - nacks', () => {
  it('publisher - a nack retires the channel: the next publish goes through a fresh one', async () => {
    const { stuck, fresh, p } = stuckThenFresh();
    await expect(p.publish('', 'q', Buffer.from('a'), {}, true)).rejects.toMatchObject({ code: 'rejected' });
    expect(await p.publish('', 'q', Buffer.from('b'), {}, true)).toBe('1.1');
    expect(stuck.published).toBe(1);
    expect(fresh.published).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(stuck.closed).toBe(true);
    expect(fresh.closed).toBe(false);
  });

  it('publisher - several nacks on one channel retire it once, waiting for its confirms once', async () => {
    const { stuck, fresh, p } = stuckThenFresh();
    // Three publishes go out on the stuck channel in one turn, before its first nack arrives.
    const sends = [p.publish('', 'q', Buffer.from('a'), {}, true), p.publish('', 'q', Buffer.from('b'), {}, true), p.publish('', 'q', Buffer.from('c'), {}, true)];
    for (const r of await Promise.allSettled(sends)) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'rejected' } });
    expect(stuck.published).toBe(3);
    expect(stuck.waitForConfirmsCalls).toBe(1);
    expect(await p.publish('', 'q', Buffer.from('d'), {}, true)).toBe('1.1');
  });
});

describe('publisher - hot path', () => {
  it('publisher - on an open channel a publish goes out before the call returns; behind a full one, later publishes wait their turn', async () => {
    const ch = new FakeConfirmChannel();
    const p = publisherOver(ch);
    expect(await p.publish('', 'q', Buffer.from('open'), {}, true)).toBe('1.1');
    const a = p.publish('', 'q', Buffer.from('a'), {}, true);
    expect(ch.published).toBe(2);
    ch.full = true;
    const b = p.publish('', 'q', Buffer.from('b'), {}, true);
    ch.full = false;
    // The buffer is full: c waits for 'drain', and d, though the channel is open, waits behind c.
    const c = p.publish('', 'q', Buffer.from('c'), {}, true);
    const d = p.publish('', 'q', Buffer.from('d'), {}, true);
    await new Promise((r) => setImmediate(r));
    expect(ch.order).toEqual(['open', 'a', 'b']);
    ch.emit('drain');
    expect(await Promise.all([a, b, c, d])).toEqual(['1.2', '1.3', '1.4', '1.5']);
    expect(ch.order).toEqual(['open', 'a', 'b', 'c', 'd']);
  });
});

describe('publisher - batches', () => {
  const bodies = (...s: string[]) => s.map((x) => Buffer.from(x));

  it('publisher - a batch resolves once with one outcome per message, in order: the reference or the error of that message alone', async () => {
    const ch = new FakeConfirmChannel();
    const p = publisherOver(ch);
    expect(await p.publish('', 'q', Buffer.from('open'), {}, true)).toBe('1.1');
    const outcomes = await p.publishAll('', 'q', bodies('a', 'b', 'c'), [{}, { headers: { refuse: 1 } }, {}], true);
    expect(outcomes.slice(0, 1).concat(outcomes.slice(2))).toEqual(['1.2', '1.3']);
    expect(outcomes[1]).toMatchObject({ code: 'payload_too_large' });
    expect(ch.order).toEqual(['open', 'a', 'c']);
  });

  it('publisher - a batch that fills the buffer goes on after drain, in order, with later sends behind it', async () => {
    const ch = new FakeConfirmChannel();
    const p = publisherOver(ch);
    expect(await p.publish('', 'q', Buffer.from('open'), {}, true)).toBe('1.1');
    ch.full = true;
    const batch = p.publishAll('', 'q', bodies('a', 'b', 'c'), [{}, {}, {}], true);
    ch.full = false;
    const later = p.publish('', 'q', Buffer.from('d'), {}, true);
    await new Promise((r) => setImmediate(r));
    // 'a' filled the buffer: 'b', 'c' and the later send wait for drain.
    expect(ch.order).toEqual(['open', 'a']);
    ch.emit('drain');
    expect(await batch).toEqual(['1.2', '1.3', '1.4']);
    expect(await later).toBe('1.5');
    expect(ch.order).toEqual(['open', 'a', 'b', 'c', 'd']);
  });

  it('publisher - an unconfirmed batch resolves with undefined outcomes once written, and a nacked confirmed one fails each message and retires the channel', async () => {
    const { stuck, fresh, p } = stuckThenFresh();
    await expect(p.publish('', 'q', Buffer.from('x'), {}, true)).rejects.toMatchObject({ code: 'rejected' });
    expect(await p.publishAll('', 'q', bodies('a', 'b'), [{}, {}], false)).toEqual([undefined, undefined]);
    expect(fresh.order).toEqual(['a', 'b']);
    fresh.nackAll = true;
    const nacked = await p.publishAll('', 'q', bodies('c', 'd'), [{}, {}], true);
    expect(nacked).toEqual([expect.objectContaining({ code: 'rejected' }), expect.objectContaining({ code: 'rejected' })]);
    expect(stuck.closed).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(fresh.closed).toBe(true);
  });

  it('publisher - an empty batch resolves with no outcomes', async () => {
    const p = publisherOver(new FakeConfirmChannel());
    expect(await p.publishAll('', 'q', [], [], true)).toEqual([]);
  });
});
