import { headers as natsHeaders, type Msg } from '@nats-io/nats-core';
import { HEADERS, queue } from '@switchboard/core';
import { resolveConsumerOptions, type InboundMessage } from '@switchboard/core/driver';
import { openCoreConsumer } from '../src/core-consumer';
import type { NatsContext } from '../src/session';

function fakeContext() {
  let callback: ((err: unknown, msg: Msg) => void) | undefined;
  const subscribed: { subject: string; queue: string | undefined }[] = [];
  const nc = {
    subscribe(subject: string, opts: { queue?: string; callback: (err: unknown, msg: Msg) => void }) {
      subscribed.push({ subject, queue: opts.queue });
      callback = opts.callback;
      return { drain: async () => undefined, unsubscribe: () => undefined };
    },
    flush: async () => undefined,
    isClosed: () => false,
  };
  const send = (body: string, h: Record<string, string> = {}, reply?: string) => {
    const hdrs = natsHeaders();
    for (const [k, v] of Object.entries(h)) hdrs.set(k, v);
    callback!(null, { subject: 'orders', data: new TextEncoder().encode(body), headers: hdrs, reply } as unknown as Msg);
  };
  return { ctx: { nc, options: { subjectPrefix: 'sb' } } as unknown as NatsContext, subscribed, send };
}

describe('core consumer - settled on receipt, buffered until started', () => {
  it('settles on receipt and hands over what arrived before start, in order', async () => {
    const { ctx, subscribed, send } = fakeContext();
    const source = queue('orders');
    const o = resolveConsumerOptions(source, { ackMode: 'at-least-once' });
    const driver = await openCoreConsumer(ctx, source, o);
    expect(driver.settlesOnReceipt).toBe(true);
    // A queue's subject is <subjectPrefix>.q.<name>, so queue:orders never shares topic:orders' subject.
    expect(subscribed).toEqual([{ subject: 'sb.q.orders', queue: 'sb-queue' }]);
    send('a', { [HEADERS.messageId]: 'id-a', 'x-k': 'v' }, '_INBOX.r.1');
    send('b');
    const got: InboundMessage<undefined>[] = [];
    driver.start({ deliver: (m) => got.push(m), fail: () => undefined });
    send('c');
    expect(got.map((m) => new TextDecoder().decode(m.body))).toEqual(['a', 'b', 'c']);
    expect(got[0]).toMatchObject({ id: 'id-a', headers: { 'x-k': 'v' }, attempt: 1, replyTo: '_INBOX.r.1' });
  });

  it('drops messages its header filter does not match, and refuses poll as unsupported', async () => {
    const { ctx, send } = fakeContext();
    const source = queue('orders');
    const driver = await openCoreConsumer(ctx, source, resolveConsumerOptions(source, { filter: { kind: 'new' } }));
    const got: InboundMessage<undefined>[] = [];
    driver.start({ deliver: (m) => got.push(m), fail: () => undefined });
    send('old', { kind: 'old' });
    send('new', { kind: 'new' });
    expect(got).toHaveLength(1);
    await expect(driver.fetch!(1, 0, undefined)).rejects.toMatchObject({ code: 'unsupported' });
  });
});
