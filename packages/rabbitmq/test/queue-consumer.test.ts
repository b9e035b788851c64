import { EventEmitter } from 'node:events';
import { HEADERS, toDestination } from '@switchboard/core';
import { normalizeMessages, resolveConsumerOptions, type InboundMessage } from '@switchboard/core/driver';
import type { Message } from 'amqplib';
import { publishOptions } from '../src/codec';
import { QueueConsumer, type QueueHandle } from '../src/consumer';
import type { Link } from '../src/link';
import type { RabbitContext } from '../src/session';

/** An amqplib channel as far as the queue consumer uses it. */
class FakeChannel extends EventEmitter {
  readonly acked: Message[] = [];
  readonly requeued: Message[] = [];
  readonly waiting: Message[] = [];
  onMessage: ((m: Message | null) => void) | undefined;
  prefetch = jest.fn(async () => undefined);
  ack = (m: Message) => void this.acked.push(m);
  nack = (m: Message) => void this.requeued.push(m);
  get = jest.fn(async () => this.waiting.shift() ?? false);
  consume = jest.fn(async (_q: string, on: (m: Message | null) => void) => {
    this.onMessage = on;
    return { consumerTag: 'ctag' };
  });
  cancel = jest.fn(async () => undefined);
  close = jest.fn(async () => undefined);
}

let tag = 0;
function message(attempt = 1): Message {
  const [m] = normalizeMessages({ id: `m-${++tag}`, body: 'hello', key: 'k', headers: { color: 'red' } });
  const o = publishOptions(m!, { attempt });
  return {
    content: Buffer.from('hello'),
    fields: { deliveryTag: tag, redelivered: false, exchange: '', routingKey: 'jobs', consumerTag: 'ctag' },
    properties: { headers: o.headers, messageId: o.messageId, timestamp: o.timestamp } as Message['properties'],
  };
}

function setup(options: Parameters<typeof resolveConsumerOptions>[1] = {}) {
  const ch = new FakeChannel();
  const link = {
    generation: 1,
    isOpen: true,
    options: { pollIntervalMs: 5, sendTimeoutMs: 1000 },
    current: async () => ({ createChannel: async () => ch }),
    add: () => undefined,
    remove: () => undefined,
  } as unknown as Link;
  const publish = jest.fn(async () => '1.1');
  const delay = jest.fn(async (_t: unknown, ms: number) => `sb.delay.${ms}.q.jobs`);
  const ctx = {
    link,
    options: link.options,
    topology: { delay },
    publish,
    targetOf: async (d: { name: string }) => ({ exchange: '', routingKey: d.name }),
  } as unknown as RabbitContext;
  const source = toDestination('jobs');
  const qc = new QueueConsumer(ctx, 'jobs', resolveConsumerOptions(source, options));
  return { ch, qc, publish, delay };
}

describe('queue consumer - settles through republish and ack', () => {
  it('fetch hands out basic.get messages with attempt, receipt and application headers only', async () => {
    const { ch, qc } = setup({ prefetch: 3 });
    await qc.init();
    expect(ch.prefetch).toHaveBeenCalledWith(3, false);
    ch.waiting.push(message(2), message());
    const got = await qc.fetch(5, 0, undefined);
    expect(got.map((m) => m.attempt)).toEqual([2, 1]);
    expect(got[0]!.receipt).toBe(String(got[0]!.handle.msg.fields.deliveryTag));
    expect(got[0]!.headers).toEqual({ color: 'red' });
    expect(got[0]!.key).toBe('k');
    // A queue keeps no log to replay: no position.
    expect(got[0]!.position).toBeUndefined();
    expect(ch.get).toHaveBeenCalledWith('jobs', { noAck: false });
  });

  it('fetch waits about waitMs on an empty queue, and stops early on abort', async () => {
    const { qc } = setup();
    await qc.init();
    let t = Date.now();
    expect(await qc.fetch(1, 60, undefined)).toEqual([]);
    expect(Date.now() - t).toBeGreaterThanOrEqual(55);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 10);
    t = Date.now();
    expect(await qc.fetch(1, 5000, ac.signal)).toEqual([]);
    expect(Date.now() - t).toBeLessThan(1000);
  });

  it('retry republishes with attempt + 1 (through the delay queue when delayed), then acks the original', async () => {
    const { ch, qc, publish, delay } = setup();
    await qc.init();
    ch.waiting.push(message(), message(3));
    const [a, b] = (await qc.fetch(2, 0, undefined)) as [InboundMessage<QueueHandle>, InboundMessage<QueueHandle>];
    await qc.retry(a.handle, 0);
    expect(publish).toHaveBeenLastCalledWith({ exchange: '', routingKey: 'jobs' }, a.handle.msg.content, expect.objectContaining({ headers: expect.objectContaining({ [HEADERS.attempt]: '2' }) }));
    await qc.retry(b.handle, 500);
    expect(delay).toHaveBeenCalledWith({ exchange: '', routingKey: 'jobs' }, 500);
    expect(publish).toHaveBeenLastCalledWith({ exchange: '', routingKey: 'sb.delay.500.q.jobs' }, b.handle.msg.content, expect.objectContaining({ headers: expect.objectContaining({ [HEADERS.attempt]: '4' }) }));
    expect(ch.acked).toEqual([a.handle.msg, b.handle.msg]);
  });

  it('deadLetter publishes the copy with the headers core gives, then acks', async () => {
    const { ch, qc, publish } = setup();
    await qc.init();
    ch.waiting.push(message(2));
    const [m] = await qc.fetch(1, 0, undefined);
    const headers = { color: 'red', [HEADERS.deadLetterReason]: 'boom', [HEADERS.deadLetterAttempts]: '2' };
    await qc.deadLetter(m!.handle, toDestination('jobs-dlq'), headers);
    const [target, , sent] = publish.mock.calls[0] as unknown as [unknown, Buffer, { headers: Record<string, unknown>; messageId: string }];
    expect(target).toEqual({ exchange: '', routingKey: 'jobs-dlq' });
    expect(sent.headers).toMatchObject(headers);
    expect(sent.headers[HEADERS.attempt]).toBeUndefined();
    expect(sent.headers[HEADERS.key]).toBe('k');
    expect(sent.messageId).toBe(m!.id);
    expect(ch.acked).toEqual([m!.handle.msg]);
  });

  it('release requeues; a delivery of a lost channel cannot be settled', async () => {
    const { ch, qc } = setup();
    await qc.init();
    ch.waiting.push(message(), message());
    const [a, b] = await qc.fetch(2, 0, undefined);
    await qc.release(a!.handle);
    expect(ch.requeued).toEqual([a!.handle.msg]);
    qc.lost();
    await expect(qc.ack(b!.handle)).rejects.toMatchObject({ code: 'connection' });
    await expect(qc.retry(b!.handle, 0)).rejects.toMatchObject({ code: 'connection' });
  });

  it('at-most-once acks each pushed message before the sink sees it; a stopped consumer requeues', async () => {
    const { ch, qc } = setup({ ackMode: 'at-most-once' });
    await qc.init();
    const seen: number[] = [];
    qc.start({ deliver: () => seen.push(ch.acked.length), fail: () => undefined });
    await new Promise((r) => setImmediate(r));
    ch.onMessage!(message());
    expect(seen).toEqual([1]);
    await qc.stop();
    expect(ch.cancel).toHaveBeenCalledWith('ctag');
    ch.onMessage!(message());
    expect(ch.requeued).toHaveLength(1);
  });

  it('a broker cancel (queue deleted) fails the subscription with not_found', async () => {
    const { ch, qc } = setup();
    await qc.init();
    const fail = jest.fn();
    qc.start({ deliver: () => undefined, fail });
    await new Promise((r) => setImmediate(r));
    ch.onMessage!(null);
    expect(fail).toHaveBeenCalledWith(expect.objectContaining({ code: 'not_found' }));
  });
});
