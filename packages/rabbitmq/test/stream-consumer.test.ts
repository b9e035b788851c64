import { EventEmitter } from 'node:events';
import { toDestination, type StartPosition } from '@switchboard/core';
import { resolveConsumerOptions, type InboundMessage } from '@switchboard/core/driver';
import type { Message } from 'amqplib';
import type { Link } from '../src/link';
import type { RabbitContext } from '../src/session';
import { formatPosition, parsePosition, StreamConsumer, streamStart, type StreamEntry } from '../src/stream-consumer';

/** A stream reader's channel as far as the driver uses it. */
class FakeChannel extends EventEmitter {
  readonly acked: Message[] = [];
  onMessage: ((m: Message | null) => void) | undefined;
  consumeArgs: unknown;
  prefetch = async () => undefined;
  ack = (m: Message) => void this.acked.push(m);
  consume = jest.fn(async (_q: string, on: (m: Message | null) => void, o: { arguments: unknown }) => {
    this.onMessage = on;
    this.consumeArgs = o.arguments;
    return { consumerTag: 'ctag' };
  });
  close = async () => undefined;
}

function record(offset: number): Message {
  return {
    content: Buffer.from(`m${offset}`),
    fields: { deliveryTag: offset + 1, redelivered: false, exchange: '', routingKey: '', consumerTag: 'ctag' },
    properties: { headers: { 'x-stream-offset': offset, 'sb-ts': String(Date.now()) }, messageId: `id-${offset}` } as unknown as Message['properties'],
  };
}

async function setup(saved?: number, options: Parameters<typeof resolveConsumerOptions>[1] = {}, from: StartPosition = 'earliest') {
  const ch = new FakeChannel();
  const link = { generation: 1, isOpen: true, options: {}, current: async () => ({ createChannel: async () => ch }), add: () => undefined, remove: () => undefined } as unknown as Link;
  const admin = {
    assertQueue: async () => undefined,
    get: async () => (saved === undefined ? false : { content: Buffer.from(String(saved)) }),
    nack: () => undefined,
  };
  const publish = jest.fn(async () => '1.1');
  const ctx = {
    link,
    options: {},
    topology: { run: (op: (c: typeof admin) => Promise<unknown>) => op(admin), offsets: async () => undefined },
    publish,
    targetOf: async (d: { name: string }) => ({ exchange: '', routingKey: d.name }),
  } as unknown as RabbitContext;
  const source = toDestination('topic:events');
  const sc = new StreamConsumer(ctx, source, 'events@@stream', resolveConsumerOptions(source, { group: 'g', from: 'earliest', ...options }));
  await sc.init(streamStart(from));
  const got: InboundMessage<StreamEntry>[] = [];
  const commits = () => publish.mock.calls.filter((c) => (c as unknown[])[0] && ((c as unknown[])[0] as { routingKey: string }).routingKey.endsWith('@@offset')).map((c) => String((c as unknown[])[1]));
  return { ch, sc, got, publish, commits };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('stream consumer - client-side redelivery and committed position', () => {
  it('starts after the committed offset when the group has one', async () => {
    const { ch } = await setup(41);
    expect(ch.consumeArgs).toEqual({ 'x-stream-offset': 42 });
  });

  it('holds what it reads before start, then hands it over in order', async () => {
    const { ch, sc, got } = await setup();
    ch.onMessage!(record(0));
    ch.onMessage!(record(1));
    sc.start({ deliver: (m) => got.push(m), fail: () => undefined });
    expect(got.map((m) => [m.receipt, m.attempt])).toEqual([['0', 1], ['1', 1]]);
  });

  it('commits only the contiguous settled prefix; a retry comes back with attempt + 1 and holds the position', async () => {
    const { ch, sc, got, commits } = await setup();
    sc.start({ deliver: (m) => got.push(m), fail: () => undefined });
    for (const o of [0, 1, 2]) ch.onMessage!(record(o));
    await sc.ack(got[1]!.handle);
    await tick();
    expect(commits()).toEqual([]);
    await sc.retry(got[0]!.handle, 0);
    await tick();
    expect(got[3]).toMatchObject({ receipt: '0', attempt: 2 });
    await sc.ack(got[3]!.handle);
    await tick();
    expect(commits()).toEqual(['1']);
    expect(ch.acked).toHaveLength(2);
  });

  it('release keeps the message for the next reader without counting an attempt', async () => {
    const { ch, sc, got } = await setup();
    sc.start({ deliver: (m) => got.push(m), fail: () => undefined });
    ch.onMessage!(record(0));
    await sc.stop();
    await sc.release(got[0]!.handle);
    sc.start({ deliver: (m) => got.push(m), fail: () => undefined });
    expect(got.map((m) => [m.receipt, m.attempt])).toEqual([['0', 1], ['0', 1]]);
  });

  it('dead-letters a copy with the headers core gives, then commits past it', async () => {
    const { ch, sc, got, publish, commits } = await setup();
    sc.start({ deliver: (m) => got.push(m), fail: () => undefined });
    ch.onMessage!(record(0));
    await sc.deadLetter(got[0]!.handle, toDestination('events-dlq'), { 'sb-dead-letter-reason': 'boom' });
    expect(publish).toHaveBeenCalledWith({ exchange: '', routingKey: 'events-dlq' }, Buffer.from('m0'), expect.objectContaining({ headers: expect.objectContaining({ 'sb-dead-letter-reason': 'boom' }) }));
    await tick();
    expect(commits()).toEqual(['0']);
  });

  it('at-most-once settles each record as it is handed over', async () => {
    const { ch, sc, got } = await setup(undefined, { ackMode: 'at-most-once' });
    sc.start({ deliver: (m) => got.push(m), fail: () => undefined });
    ch.onMessage!(record(0));
    expect(ch.acked).toHaveLength(1);
  });
});

describe('stream position - the stream offset in decimal, read back inclusive', () => {
  it('formats an offset as its decimal and parses it back', () => {
    for (const n of [0, 5, 41, Number.MAX_SAFE_INTEGER]) expect(parsePosition(formatPosition(n))).toBe(n);
    expect(formatPosition(1234)).toBe('1234');
  });

  it('refuses what is not a stream offset in decimal with invalid_argument', () => {
    for (const bad of ['', '-1', '1.5', '1e3', ' 7', '7 ', '0x10', '+3', 'abc', 'offset:3', '9007199254740993']) {
      expect(() => parsePosition(bad)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
      expect(() => streamStart({ position: bad })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    }
  });

  it('starts a new group at the offset a position names, inclusive', () => {
    expect(streamStart({ position: '5' })).toEqual({ offset: 5 });
    expect(streamStart({ offset: 5 })).toEqual({ offset: 5 });
    expect(streamStart('earliest')).toEqual({ offset: 'first' });
  });

  it('sets each delivery\'s position to its offset and skips what the broker sends from before the start (the rest of its chunk)', async () => {
    const { ch, sc, got } = await setup(undefined, {}, { position: '5' });
    expect(ch.consumeArgs).toEqual({ 'x-stream-offset': 5 });
    sc.start({ deliver: (m) => got.push(m), fail: () => undefined });
    for (const o of [3, 4, 5, 6]) ch.onMessage!(record(o));
    expect(got.map((m) => m.position)).toEqual(['5', '6']);
    expect(ch.acked).toHaveLength(2);
  });

  it('a committed position wins over from: { position }', async () => {
    const { ch } = await setup(41, {}, { position: '5' });
    expect(ch.consumeArgs).toEqual({ 'x-stream-offset': 42 });
  });
});
