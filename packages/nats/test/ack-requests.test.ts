import type { Msg } from '@nats-io/transport-node';
import { SwitchboardError } from '@switchboard/core';
import { createAckRequests, type AckConnection } from '../src/ack-requests';

type Callback = (err: Error | null, msg: Msg) => void;

/** A connection that records subscriptions and publishes; `answer` plays the server. */
function fakeConnection() {
  const subs: { subject: string; callback: Callback; unsubscribed: boolean }[] = [];
  const published: { subject: string; reply: string | undefined }[] = [];
  let failPublish: Error | undefined;
  const nc = {
    subscribe: (subject: string, opts: { callback: Callback }) => {
      const s = { subject, callback: opts.callback, unsubscribed: false };
      subs.push(s);
      return { unsubscribe: () => void (s.unsubscribed = true) };
    },
    publish: (subject: string, _data: Uint8Array, opts?: { reply?: string }) => {
      if (failPublish) throw failPublish;
      published.push({ subject, reply: opts?.reply });
    },
  } as unknown as AckConnection;
  const answer = (reply: string, code?: number) =>
    subs[0]!.callback(null, { subject: reply, data: new Uint8Array(0), headers: code === undefined ? undefined : { code } } as unknown as Msg);
  return { nc, subs, published, answer, failWith: (e: Error) => void (failPublish = e) };
}

const ACK = new TextEncoder().encode('+ACK');

describe('ack requests - confirmed settles on one reply subscription', () => {
  afterEach(() => jest.useRealTimers());

  it('requests per message - any number of acks share one subscription, each is one publish with a reply subject', async () => {
    const f = fakeConnection();
    const acks = createAckRequests(f.nc, 5000);
    const done = Array.from({ length: 50 }, (_, i) => acks.send(`$JS.ACK.S.C.1.${i + 1}.${i + 1}.0.0`, ACK));
    expect(f.subs).toHaveLength(1);
    expect(f.subs[0]!.subject).toMatch(/^_INBOX\.[^.]+\.\*$/);
    expect(f.published).toHaveLength(50);
    expect(new Set(f.published.map((p) => p.reply)).size).toBe(50);
    expect(acks.pending).toBe(50);
    for (const p of f.published) f.answer(p.reply!);
    await Promise.all(done);
    expect(acks.pending).toBe(0);
    acks.close();
  });

  it('request - resolves with the answer itself (a publish reads its PubAck), headers sent along', async () => {
    const f = fakeConnection();
    const acks = createAckRequests(f.nc, 5000);
    const p = acks.request('sb.q.x', new Uint8Array([1]));
    f.answer(f.published[0]!.reply!, 503);
    await expect(p).resolves.toMatchObject({ headers: { code: 503 } });
    expect(f.subs).toHaveLength(1);
    acks.close();
  });

  it('no responders - the 503 status of a gone consumer rejects that ack with no_responders', async () => {
    const f = fakeConnection();
    const acks = createAckRequests(f.nc, 5000);
    const p = acks.send('$JS.ACK.S.C.1.1.1.0.0', ACK);
    f.answer(f.published[0]!.reply!, 503);
    await expect(p).rejects.toMatchObject({ code: 'no_responders' });
    acks.close();
  });

  it('deadline - an unanswered ack is a timeout error, the answered ones are not, with one timer for all', async () => {
    jest.useFakeTimers({ now: 0 });
    let t = 0;
    const f = fakeConnection();
    const acks = createAckRequests(f.nc, 1000, () => t);
    const first = acks.send('$JS.ACK.a', ACK);
    t = 400;
    const second = acks.send('$JS.ACK.b', ACK);
    expect(jest.getTimerCount()).toBe(1);
    f.answer(f.published[0]!.reply!);
    await expect(first).resolves.toBeUndefined();
    t = 1000;
    jest.advanceTimersByTime(1000);
    expect(acks.pending).toBe(1);
    t = 1400;
    jest.advanceTimersByTime(400);
    await expect(second).rejects.toMatchObject({ code: 'timeout' });
    expect(jest.getTimerCount()).toBe(0);
    acks.close();
  });

  it('close - what still waits is rejected with closed, later sends too, and the subscription ends', async () => {
    const f = fakeConnection();
    const acks = createAckRequests(f.nc, 5000);
    const p = acks.send('$JS.ACK.a', ACK);
    acks.close();
    await expect(p).rejects.toMatchObject({ code: 'closed' });
    await expect(acks.send('$JS.ACK.b', ACK)).rejects.toBeInstanceOf(SwitchboardError);
    expect(f.subs[0]!.unsubscribed).toBe(true);
  });

  it('publish error - a client error on publish is classified and nothing stays pending', async () => {
    const f = fakeConnection();
    const acks = createAckRequests(f.nc, 5000);
    f.failWith(Object.assign(new Error('connection closed'), { name: 'ClosedConnectionError' }));
    await expect(acks.send('$JS.ACK.a', ACK)).rejects.toMatchObject({ code: 'closed' });
    expect(acks.pending).toBe(0);
    acks.close();
  });
});
