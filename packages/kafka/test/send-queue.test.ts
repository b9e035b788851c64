import type { Producer as KafkaProducer, TopicMessages } from 'kafkajs';
import { isSequenceDesync, SendQueue } from '../src/send-queue';

/** `omit(call, partition)`: leave that partition out of the call's result (and do not write it), as kafkajs does after a leader change. */
function fakeProducer(fail?: Error, omit?: (call: number, partition: number) => boolean, logAppendTime = '-1') {
  const next = new Map<string, number>();
  const calls: TopicMessages[][] = [];
  const producer = {
    sendBatch: async ({ topicMessages }: { topicMessages: TopicMessages[] }) => {
      calls.push(topicMessages);
      if (fail) throw fail;
      const out: { topicName: string; partition: number; errorCode: number; baseOffset: string; logAppendTime: string }[] = [];
      for (const tm of topicMessages) {
        const counts = new Map<number, number>();
        for (const m of tm.messages) counts.set(m.partition!, (counts.get(m.partition!) ?? 0) + 1);
        for (const [p, n] of counts) {
          if (omit?.(calls.length, p)) continue;
          const k = `${tm.topic}/${p}`;
          const base = next.get(k) ?? 0;
          next.set(k, base + n);
          out.push({ topicName: tm.topic, partition: p, errorCode: 0, baseOffset: String(base), logAppendTime });
        }
      }
      return out;
    },
  } as unknown as KafkaProducer;
  return { producer, calls };
}

const msg = (partition: number, size = 10) => ({ partition, size, message: { key: null, value: Buffer.alloc(size) } });

describe('send-queue - coalescing and per-message offsets', () => {
  test('sends of one turn share a request and get their own offsets', async () => {
    const { producer, calls } = fakeProducer();
    const q = new SendQueue(producer, 512 * 1024);
    const a = q.push('t', [msg(0), msg(1), msg(0)]);
    const b = q.push('u', [msg(2)]);
    expect([...(await a), ...(await b)]).toEqual(['0:0', '1:0', '0:1', '2:0']);
    expect(calls).toHaveLength(1);
    expect(await q.push('t', [msg(0)])).toEqual(['0:2']);
  });
  test('send-queue - a message the broker names settles with its reference and the id its deliveries read: topic, partition, offset and the stamp it was sent with', async () => {
    const { producer } = fakeProducer();
    const q = new SendQueue(producer, 512 * 1024);
    const named = (partition: number) => ({ ...msg(partition), stamp: '1700000000123' });
    expect(await q.push('t', [named(0), msg(0), named(1)])).toEqual([{ ref: '0:0', id: 't:0:0@1700000000123' }, '0:1', { ref: '1:0', id: 't:1:0@1700000000123' }]);
  });
  test('send-queue - on a topic that stamps records itself (LogAppendTime) the id takes the broker\'s append time', async () => {
    const { producer } = fakeProducer(undefined, undefined, '1700000009999');
    const q = new SendQueue(producer, 512 * 1024);
    expect(await q.push('t', [{ ...msg(0), stamp: '1700000000123' }])).toEqual([{ ref: '0:0', id: 't:0:0@1700000009999' }]);
  });
  test('batches are cut by size', async () => {
    const { producer, calls } = fakeProducer();
    const q = new SendQueue(producer, 1000);
    const refs = q.push('t', [msg(0, 600), msg(0, 600), msg(0, 600)]);
    expect(await refs).toEqual(['0:0', '0:1', '0:2']);
    expect(calls).toHaveLength(3);
  });
  test('send-queue - a partition the result leaves out is sent again, never confirmed unsent', async () => {
    // The first sendBatch answers for partition 0 only (partition 1's leader moved): partition 1 goes again.
    const { producer, calls } = fakeProducer(undefined, (call, p) => call === 1 && p === 1);
    const q = new SendQueue(producer, 512 * 1024);
    expect(await q.push('t', [msg(0), msg(1), msg(1)])).toEqual(['0:0', '1:0', '1:1']);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.flatMap((tm) => tm.messages.map((m) => m.partition))).toEqual([1, 1]);
  });
  test('send-queue - a partition never answered fails as a retryable connection error', async () => {
    const { producer, calls } = fakeProducer(undefined, (_call, p) => p === 1);
    const q = new SendQueue(producer, 512 * 1024);
    const [a, b] = await q.push('t', [msg(0), msg(1)]);
    expect(a).toBe('0:0');
    expect(b).toMatchObject({ code: 'connection', retryable: true });
    expect((b as Error).message).toMatch(/no answer for topic t partition 1 after 3 sends/);
    expect(calls).toHaveLength(3);
  });
  test('a failed request rejects its messages with a classified error', async () => {
    const err = Object.assign(new Error('Connection error: connect ECONNREFUSED'), { name: 'KafkaJSConnectionError' });
    const { producer } = fakeProducer(err);
    const q = new SendQueue(producer, 1000);
    const [r] = await q.push('t', [msg(0)]);
    expect(r).toMatchObject({ code: 'connection' });
    await q.flush();
  });
  test('send-queue - a batch refused for out-of-step sequence numbers goes again through a new producer', async () => {
    const desync = Object.assign(new Error('The broker received an out of order sequence number'), { name: 'KafkaJSProtocolError', type: 'OUT_OF_ORDER_SEQUENCE_NUMBER', retriable: false });
    const wrapped = Object.assign(new Error(desync.message), { name: 'KafkaJSNonRetriableError', cause: desync });
    const broken = fakeProducer(wrapped);
    const fresh = fakeProducer();
    const renewed: unknown[] = [];
    const q = new SendQueue(broken.producer, 1000, 5000, async (old) => {
      renewed.push(old);
      return fresh.producer;
    });
    expect(await q.push('t', [msg(0), msg(1)])).toEqual(['0:0', '1:0']);
    expect(renewed).toEqual([broken.producer]);
    expect(q.current).toBe(fresh.producer);
    expect(fresh.calls).toHaveLength(1);
    expect(await q.push('t', [msg(0)])).toEqual(['0:1']);
    expect(broken.calls).toHaveLength(1);
  });
  test('send-queue - another error fails the batch without sending it again; the next batch goes through a new producer', async () => {
    const err = Object.assign(new Error('Connection error'), { name: 'KafkaJSConnectionError' });
    const broken = fakeProducer(err);
    const fresh = fakeProducer();
    let renewed = 0;
    const q = new SendQueue(broken.producer, 1000, 5000, async () => {
      renewed++;
      return fresh.producer;
    });
    expect((await q.push('t', [msg(0)]))[0]).toMatchObject({ code: 'connection' });
    expect(renewed).toBe(0);
    expect(broken.calls).toHaveLength(1);
    expect(await q.push('t', [msg(0)])).toEqual(['0:0']);
    expect(renewed).toBe(1);
    expect(q.current).toBe(fresh.producer);
    expect(await q.push('t', [msg(0)])).toEqual(['0:1']);
    expect(renewed).toBe(1);
  });
  test('send-queue - a batch the broker appended though the request failed does not make the next message a "duplicate" that is confirmed and dropped', async () => {
    // A broker with idempotent-producer dedup (a batch whose producer id and first sequence number
    // match a stored batch is answered with that batch's offset and not stored), and a kafkajs-like
    // producer that takes its sequence numbers back when a request fails, as kafkajs 2.2.4 does.
    const log: string[] = [];
    const stored = new Map<string, number>();
    let producerIds = 0;
    /** `loseAnswerOf`: the call (1-based) whose answer is lost. */
    const makeProducer = (loseAnswerOf?: number) => {
      const pid = ++producerIds;
      let seq = 0;
      let calls = 0;
      return {
        sendBatch: async ({ topicMessages }: { topicMessages: TopicMessages[] }) => {
          calls++;
          const values = topicMessages.flatMap((tm) => tm.messages.map((m) => String(m.value)));
          const first = seq;
          seq += values.length;
          const key = `${pid}/${first}`;
          let base = stored.get(key);
          if (base === undefined) {
            base = log.length;
            stored.set(key, base);
            log.push(...values);
          }
          if (calls === loseAnswerOf) {
            // Appended, but the connection closed before the answer: kafkajs fails the send and takes the sequence numbers back.
            seq = first;
            throw Object.assign(new Error('Connection closed'), { name: 'KafkaJSConnectionClosedError' });
          }
          return [{ topicName: 't', partition: 0, errorCode: 0, baseOffset: String(base) }];
        },
      } as unknown as KafkaProducer;
    };
    const q = new SendQueue(makeProducer(2), 1000, 5000, async () => makeProducer());
    const send = (value: string) => q.push('t', [{ partition: 0, size: 10, message: { key: null, value } }]);
    expect(await send('a')).toEqual(['0:0']);
    expect((await send('b'))[0]).toMatchObject({ code: 'connection', retryable: true });
    const [c] = await send('c');
    expect(log).toContain('c');
    expect(c).toBe(`0:${log.indexOf('c')}`);
  });
  test('send-queue - a push split across requests settles once, with each message\'s own result', async () => {
    let n = 0;
    const producer = {
      sendBatch: async ({ topicMessages }: { topicMessages: TopicMessages[] }) => {
        if (n++ === 1) throw Object.assign(new Error('Connection error'), { name: 'KafkaJSConnectionError' });
        return topicMessages.map((tm) => ({ topicName: tm.topic, partition: 0, errorCode: 0, baseOffset: '7' }));
      },
    } as unknown as KafkaProducer;
    const q = new SendQueue(producer, 1000);
    const results = await q.push('t', [msg(0, 600), msg(0, 600)]);
    expect(results[0]).toBe('0:7');
    expect(results[1]).toMatchObject({ code: 'connection' });
  });
  test('send-queue - messages keep their partition and are not copied when it is set', async () => {
    const { producer, calls } = fakeProducer();
    const q = new SendQueue(producer, 512 * 1024);
    const set = { key: null, value: Buffer.alloc(1), partition: 1 };
    await q.push('t', [{ partition: 1, size: 1, message: set }, msg(2)]);
    expect(calls[0]![0]!.messages[0]).toBe(set);
    expect(calls[0]![0]!.messages[1]!.partition).toBe(2);
  });
  test('send-queue - isSequenceDesync looks through wrapping errors', () => {
    expect(isSequenceDesync({ type: 'UNKNOWN_PRODUCER_ID' })).toBe(true);
    expect(isSequenceDesync({ name: 'KafkaJSNumberOfRetriesExceeded', cause: { originalError: { type: 'INVALID_PRODUCER_EPOCH' } } })).toBe(true);
    expect(isSequenceDesync({ type: 'NOT_LEADER_FOR_PARTITION' })).toBe(false);
    expect(isSequenceDesync(undefined)).toBe(false);
  });
});
