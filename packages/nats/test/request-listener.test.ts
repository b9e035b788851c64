// The request listener's bookkeeping against a fake connection (pure logic): which subscriptions
// it holds, and where each request goes.
import { headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { queue, SwitchboardError, topic, type Destination } from '@switchboard/core';
import type { DriverHost } from '@switchboard/core/driver';
import { createRequestListener, REQUEST_QUEUE_GROUP } from '../src/request-listener';

interface FakeSub {
  subject: string;
  queue: string | undefined;
  callback: (err: Error | null, msg: Msg) => void;
  unsubscribed: boolean;
}

function setUp(streams: string[]) {
  const subs: FakeSub[] = [];
  const published: { subject: string; code: number | undefined }[] = [];
  const stored: { d: string; existing: boolean; replyTo: string | undefined }[] = [];
  const reports: string[] = [];
  const nc = {
    subscribe: (subject: string, o: { queue?: string; callback: FakeSub['callback'] }) => {
      const s: FakeSub = { subject, queue: o.queue, callback: o.callback, unsubscribed: false };
      subs.push(s);
      return { unsubscribe: () => void (s.unsubscribed = true) };
    },
    publish: (subject: string, _data: Uint8Array, o?: { headers?: MsgHdrs }) => void published.push({ subject, code: o?.headers?.code }),
    flush: async () => undefined,
  } as unknown as NatsConnection;
  // Stores like NatsContext.store: with `existing`, only into a stream that is there.
  const store = async (d: Destination, _body: Uint8Array, h: MsgHdrs, _msgId: string | undefined, _key?: string, existing?: boolean) => {
    const name = `${d.kind}:${d.name}`;
    if (existing && !streams.includes(name)) throw new SwitchboardError('not_found', `no stream takes ${name}`);
    stored.push({ d: name, existing: existing ?? false, replyTo: h.get('sb-reply-to') || undefined });
    return 1;
  };
  const host = { report: (_e: unknown, message: string) => void reports.push(message) } as unknown as DriverHost;
  const listener = createRequestListener(nc, 'sb', store, host);
  const live = () => subs.filter((s) => !s.unsubscribed).map((s) => `${s.subject} (${s.queue})`);
  /** A NATS request arriving on `subject` with reply subject `reply`, handed to the live subscription that matches it. */
  const request = async (subject: string, reply = '_INBOX.r1') => {
    const sub = subs.find((s) => !s.unsubscribed && subject.startsWith(s.subject.slice(0, -1)))!;
    sub.callback(null, { subject, reply, data: new Uint8Array([1]), headers: natsHeaders() } as unknown as Msg);
    await new Promise((r) => setImmediate(r));
  };
  return { listener, live, request, published, stored, reports };
}

describe('requests - one listener per connection', () => {
  test('requests - many consumers share one subscription per kind (queue group sb-requests), which closes with the last of its kind', async () => {
    const t = setUp([]);
    const stops = await Promise.all([queue('a'), queue('b'), queue('a'), topic('t')].map((d) => t.listener.listen(d)));
    expect(t.live()).toEqual([`sb.rq.> (${REQUEST_QUEUE_GROUP})`, `sb.rt.> (${REQUEST_QUEUE_GROUP})`]);
    stops[0]!();
    stops[0]!(); // a second stop of the same listener counts once
    stops[1]!();
    expect(t.live()).toEqual([`sb.rq.> (${REQUEST_QUEUE_GROUP})`, `sb.rt.> (${REQUEST_QUEUE_GROUP})`]);
    stops[2]!();
    expect(t.live()).toEqual([`sb.rt.> (${REQUEST_QUEUE_GROUP})`]);
    stops[3]!();
    expect(t.live()).toEqual([]);
    await t.listener.listen(queue('c'));
    expect(t.live()).toEqual([`sb.rq.> (${REQUEST_QUEUE_GROUP})`]);
    t.listener.close();
    expect(t.live()).toEqual([]);
  });

  test('requests - a request for a destination consumed here is stored (the stream made if missing), with its reply subject', async () => {
    const t = setUp([]);
    await t.listener.listen(queue('orders.eu'));
    await t.request('sb.rq.orders.eu', '_INBOX.x1');
    expect(t.stored).toEqual([{ d: 'queue:orders.eu', existing: false, replyTo: '_INBOX.x1' }]);
    expect(t.published).toEqual([]);
  });

  test('requests - a request for a destination consumed elsewhere goes into its stream when it exists; without one the requester gets 503 No Responders', async () => {
    const t = setUp(['topic:prices']);
    await t.listener.listen(queue('mine'));
    await t.listener.listen(topic('other'));
    await t.request('sb.rt.prices', '_INBOX.x2');
    expect(t.stored).toEqual([{ d: 'topic:prices', existing: true, replyTo: '_INBOX.x2' }]);
    await t.request('sb.rq.nobody', '_INBOX.x3');
    expect(t.stored).toHaveLength(1);
    expect(t.published).toEqual([{ subject: '_INBOX.x3', code: 503 }]);
    expect(t.reports).toEqual([]);
  });
});
