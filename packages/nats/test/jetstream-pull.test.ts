import type { Msg } from '@nats-io/transport-node';
import { queue } from '@switchboard/core';
import { resolveConsumerOptions, type InboundMessage } from '@switchboard/core/driver';
import { openJetStreamConsumer, type JsHandle } from '../src/jetstream-consumer';
import { nameCache, type NatsContext } from '../src/session';

type Callback = (err: Error | null, msg: Msg) => void;
const dec = new TextDecoder();

/** A context over a fake connection that records subscriptions, publishes and confirmed settles. */
function fakeContext(options: { ackConfirm: boolean }) {
  const subs: { subject: string; callback: Callback; unsubscribed: boolean }[] = [];
  const published: { subject: string; data: string; reply: string | undefined }[] = [];
  const confirmed: { subject: string; data: string }[] = [];
  const reconnectHooks = new Set<() => void>();
  const nc = {
    subscribe: (subject: string, opts: { callback: Callback }) => {
      const s = { subject, callback: opts.callback, unsubscribed: false };
      subs.push(s);
      return { unsubscribe: () => void (s.unsubscribed = true) };
    },
    publish: (subject: string, data: Uint8Array, opts?: { reply?: string }) => void published.push({ subject, data: dec.decode(data), reply: opts?.reply }),
    flush: async () => undefined,
  };
  const ctx = {
    nc,
    jsm: {
      streams: { info: async () => ({ created: '2026-01-01T00:00:00Z' }) },
      consumers: {
        info: async () => ({ config: { ack_wait: 35_000_000_000, max_deliver: -1, max_ack_pending: -1 } }),
      },
    },
    options: { ackConfirm: options.ackConfirm, apiTimeoutMs: 5000, pullExpiresMs: 2000 },
    acks: {
      send: async (subject: string, data: Uint8Array) => void confirmed.push({ subject, data: dec.decode(data) }),
      pending: 0,
      close: () => undefined,
    },
    requests: { listen: async () => () => undefined, close: () => undefined },
    names: nameCache('SB', 'sb'),
    ensureStream: async () => undefined,
    delayNaks: new Map(),
    host: { report: () => undefined },
    onReconnect: (fn: () => void) => {
      reconnectHooks.add(fn);
      return () => void reconnectHooks.delete(fn);
    },
  } as unknown as NatsContext;
  const pulls = () => published.filter((p) => p.subject.startsWith('$JS.API.CONSUMER.MSG.NEXT.'));
  /** The server's answer to the pull request `i`: a status (408 expired) or a stored message. */
  const toPull = (i: number, msg: { code?: number; seq?: number }) => {
    const reply = pulls()[i]!.reply!;
    const sub = subs.find((s) => !s.unsubscribed && (s.subject === reply || (s.subject.endsWith('.*') && reply.startsWith(s.subject.slice(0, -1)))))!;
    const m =
      msg.code !== undefined
        ? { subject: reply, data: new Uint8Array(0), headers: { code: msg.code }, reply: '' }
        : // JetStream delivers a stored message with its stream subject, not the pull's reply subject.
          { subject: 'sb.q.jobs', data: new Uint8Array([1]), headers: undefined, reply: `$JS.ACK.SB_Q_jobs.mailbox.1.${msg.seq}.${msg.seq}.1700000000000000000.0` };
    sub.callback(null, m as unknown as Msg);
  };
  const reconnect = () => reconnectHooks.forEach((fn) => fn());
  return { ctx, subs, published, confirmed, pulls, toPull, reconnect, reconnectHooks };
}

const open = (ctx: NatsContext, prefetch = 10) => openJetStreamConsumer(ctx, queue('jobs'), resolveConsumerOptions(queue('jobs'), { prefetch }));

describe('jetstream consumer - pull requests and acks', () => {
  afterEach(() => jest.useRealTimers());

  it('idle - pull after pull shares one subscription (no inbox per pull) and no timer wakes the member between them', async () => {
    jest.useFakeTimers();
    const f = fakeContext({ ackConfirm: true });
    const c = await open(f.ctx);
    c.start({ deliver: () => undefined, fail: () => undefined });
    const subsAfterStart = f.subs.length;
    expect(f.pulls()).toHaveLength(1);
    expect(JSON.parse(f.pulls()[0]!.data)).toMatchObject({ batch: 10, expires: 2_000_000_000, idle_heartbeat: 1_000_000_000 });
    for (let i = 0; i < 20; i++) {
      f.toPull(i, { code: 408 }); // expired on the server: the next one goes out at once
      expect(f.pulls()).toHaveLength(i + 2);
    }
    expect(f.subs.length).toBe(subsAfterStart);
    // Open now: the push subscription (requests go to the connection's one listener); timers: the open pull's deadline and the config re-check.
    expect(f.subs.filter((s) => !s.unsubscribed)).toHaveLength(1);
    expect(jest.getTimerCount()).toBe(2);
    await c.close();
    expect(f.subs.every((s) => s.unsubscribed)).toBe(true);
  });

  it('acks - each ack of the default is one confirmed request, and the freed room is pulled again', async () => {
    const f = fakeContext({ ackConfirm: true });
    const got: InboundMessage<JsHandle>[] = [];
    const c = await open(f.ctx, 2);
    c.start({ deliver: (m) => void got.push(m), fail: () => undefined });
    f.toPull(0, { seq: 1 });
    f.toPull(0, { seq: 2 });
    await new Promise((r) => setImmediate(r));
    expect(got.map((m) => m.receipt)).toEqual(['1', '2']);
    for (const m of got) await c.ack(m.handle);
    expect(f.confirmed.map((a) => a.data)).toEqual(['+ACK', '+ACK']);
    expect(f.published.filter((p) => p.data === '+ACK')).toHaveLength(0);
    expect(f.pulls().map((p) => (JSON.parse(p.data) as { batch: number }).batch)).toEqual([2, 1, 1]);
    await c.close();
  });

  it('ackConfirm false - an ack is one publish without a reply subject, no request, and frees its room at once', async () => {
    const f = fakeContext({ ackConfirm: false });
    const got: InboundMessage<JsHandle>[] = [];
    const c = await open(f.ctx, 1);
    c.start({ deliver: (m) => void got.push(m), fail: () => undefined });
    f.toPull(0, { seq: 7 });
    await new Promise((r) => setImmediate(r));
    expect(got).toHaveLength(1);
    await c.ack(got[0]!.handle);
    const acks = f.published.filter((p) => p.data === '+ACK');
    expect(acks).toEqual([{ subject: got[0]!.handle.reply, data: '+ACK', reply: undefined }]);
    expect(f.confirmed).toHaveLength(0);
    expect(f.pulls()).toHaveLength(2);
    // A nack still waits for the server.
    f.toPull(1, { seq: 8 });
    await new Promise((r) => setImmediate(r));
    await c.retry(got[1]!.handle, 0);
    expect(f.confirmed.map((a) => a.data)).toEqual(['-NAK']);
    await c.close();
  });
});

describe('jetstream consumer - a waiting pull request is kept alive by the server, not by polling', () => {
  afterEach(() => jest.useRealTimers());

  it('heartbeats - while they arrive the request stays open; when two are missed it is replaced', async () => {
    jest.useFakeTimers();
    const f = fakeContext({ ackConfirm: true }); // pullExpiresMs 2000: heartbeat every 1000 ms
    const c = await open(f.ctx);
    c.start({ deliver: () => undefined, fail: () => undefined });
    for (let i = 0; i < 10; i++) {
      jest.advanceTimersByTime(900);
      f.toPull(0, { code: 100 });
    }
    expect(f.pulls()).toHaveLength(1);
    jest.advanceTimersByTime(3001);
    expect(f.pulls()).toHaveLength(2);
    await c.close();
  });

  it('reconnect - the open request is replaced at once, and a closed member no longer listens', async () => {
    const f = fakeContext({ ackConfirm: true });
    const c = await open(f.ctx);
    c.start({ deliver: () => undefined, fail: () => undefined });
    expect(f.pulls()).toHaveLength(1);
    f.reconnect();
    expect(f.pulls()).toHaveLength(2);
    await c.close();
    expect(f.reconnectHooks.size).toBe(0);
  });
});

describe('names - computed once per destination', () => {
  it('cache - the same destination gives the same names object, so nothing is re-encoded per message', () => {
    const names = nameCache('SB', 'sb');
    const a = names(queue('orders.eu'));
    expect(a).toEqual({ stream: 'SB_Q_orders_2Eeu', subject: 'sb.q.orders.eu' });
    expect(names(queue('orders.eu'))).toBe(a);
    expect(names({ kind: 'topic', name: 'orders.eu' })).toEqual({ stream: 'SB_T_orders_2Eeu', subject: 'sb.t.orders.eu' });
  });
});

describe('jetstream consumer - joining', () => {
  it('joining - an admin request the server did not answer in time (a busy R3 cluster) is asked again, not failed', async () => {
    const f = fakeContext({ ackConfirm: true });
    const { errors } = await import('@nats-io/transport-node');
    let infos = 0;
    let adds = 0;
    (f.ctx as unknown as { jsm: unknown }).jsm = {
      streams: {
        info: async () => {
          if (++infos === 1) throw new errors.TimeoutError();
          return { created: '2026-01-01T00:00:00Z' };
        },
      },
      consumers: {
        info: async () => {
          throw Object.assign(new Error('consumer not found'), { apiError: () => ({ err_code: 10014, code: 404, description: 'consumer not found' }) });
        },
        add: async (_stream: string, cfg: { ack_wait?: number }) => {
          if (++adds === 1) throw new errors.TimeoutError();
          return { config: { ...cfg, ack_wait: 35_000_000_000 } };
        },
      },
    };
    const c = await open(f.ctx);
    expect(infos).toBe(2);
    expect(adds).toBe(2);
    await c.close();
  });
});
