import { EventEmitter } from 'node:events';
import type { InboundMessage, ResolvedConsumerOptions } from '@switchboard/core/driver';
import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import { openKafkaConsumer, type KafkaEntry } from '../src/consumer';
import { resolveKafkaOptions } from '../src/options';
import { Serial } from '../src/serial';
import type { KafkaClient } from '../src/session';

const EVENTS = { GROUP_JOIN: 'join', REBALANCING: 'rebalancing', FETCH_START: 'fetch_start', STOP: 'stop', DISCONNECT: 'disconnect', CRASH: 'crash' };

/** kafkajs consumers that run nothing by themselves: the test hands batches to the last one made. */
function fakeKafka(admin: Record<string, unknown> = { fetchOffsets: async () => [{ topic: 't', partitions: [{ partition: 0, offset: '0' }] }] }) {
  let emitter = new EventEmitter();
  const calls = { resolveOffset: [] as string[], pause: [] as unknown[], resume: [] as unknown[], commits: [] as unknown[] };
  /** false: pause and resume throw as kafkajs 2.2.4's do while its consumer has no group (after a crash, before run). */
  const state = { hasGroup: true };
  const noGroup = () => {
    throw Object.assign(new Error('Consumer group was not initialized, consumer#run must be called first'), { name: 'KafkaJSNonRetriableError' });
  };
  let eachBatch: ((p: EachBatchPayload) => Promise<void>) | undefined;
  const newConsumer = () => ({
    events: EVENTS,
    on: (name: string, f: (...a: unknown[]) => void) => emitter.on(name, f),
    connect: async () => undefined,
    subscribe: async () => undefined,
    run: async (o: { eachBatch: (p: EachBatchPayload) => Promise<void> }) => {
      eachBatch = o.eachBatch;
      const e = emitter;
      setImmediate(() => {
        e.emit('join', { payload: { memberAssignment: { t: [0], 't.sb-retry.g': [0] } } });
        e.emit('fetch_start', {});
      });
    },
    pause: (x: unknown) => (state.hasGroup ? void calls.pause.push(x) : noGroup()),
    resume: (x: unknown) => (state.hasGroup ? void calls.resume.push(x) : noGroup()),
    commitOffsets: async (x: unknown) => void calls.commits.push(x),
    seek: () => undefined,
    disconnect: async () => undefined,
  });
  const client = {
    options: resolveKafkaOptions(undefined, { brokers: ['127.0.0.1:9092'] }),
    consumerKafka: {
      consumer: () => {
        emitter = new EventEmitter();
        return newConsumer();
      },
    },
    admin,
    offsetLookups: new Serial(),
    topics: { ensure: async (t: string[]) => t.map(() => 1), partitionsOf: () => 1 },
    append: () => [],
  } as unknown as KafkaClient;
  const batch = (from: number, n: number) => {
    const messages: KafkaMessage[] = Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from('x'), timestamp: '1', attributes: 0, offset: String(from + i), headers: {} }) as KafkaMessage);
    return eachBatch!({
      batch: { topic: 't', partition: 0, messages, firstOffset: () => String(from), lastOffset: () => String(from + n - 1) },
      resolveOffset: (o: string) => void calls.resolveOffset.push(o),
      isRunning: () => true,
      isStale: () => false,
      heartbeat: async () => undefined,
    } as unknown as EachBatchPayload);
  };
  const join = () => emitter.emit('join', { payload: { memberAssignment: { t: [0], 't.sb-retry.g': [0] } } });
  return { client, calls, batch, state, join };
}

const options = (prefetch: number): ResolvedConsumerOptions =>
  ({ group: 'g', from: 'earliest', prefetch, ackMode: 'at-least-once', ackTimeoutMs: 30_000, maxAttempts: undefined, deadLetter: { kind: 'queue', name: 'dl' }, filter: undefined, signal: undefined }) as unknown as ResolvedConsumerOptions;

const turn = () => new Promise((r) => setImmediate(r));

describe('kafka consumer - fetched batches', () => {
  test('batches - a batch larger than prefetch is taken whole (one resolveOffset), at most prefetch out, the rest handed out as acks come', async () => {
    const { client, calls, batch } = fakeKafka();
    const c = await openKafkaConsumer(client, { kind: 'topic', name: 't' }, options(10));
    const got: InboundMessage<KafkaEntry>[] = [];
    c.start({ deliver: (m) => void got.push(m), fail: (e) => { throw e; } });
    await batch(0, 1000);
    // kafkajs decoded the whole batch already: it is not dropped and fetched again.
    expect(calls.resolveOffset).toEqual(['999']);
    expect(got).toHaveLength(10);
    expect(calls.pause).toHaveLength(1);
    // One object per record: the message core gets is the handle it gives back.
    expect(got[0]!.handle).toBe(got[0]);
    for (let acked = 0; acked < 1000; ) {
      const now = got.slice(acked);
      expect(now.length).toBeLessThanOrEqual(10);
      for (const m of now) await c.ack(m.handle);
      acked += now.length;
      await turn();
    }
    expect(got.map((m) => m.receipt)).toEqual(Array.from({ length: 1000 }, (_, i) => `0:${i}`));
    expect(calls.resume).toHaveLength(1);
    await c.close();
    expect(calls.commits.at(-1)).toEqual([{ topic: 't', partition: 0, offset: '1000' }]);
  });

  test('batches - while prefetch records wait in the buffer a new batch is not taken, and the partition pauses', async () => {
    const { client, calls, batch } = fakeKafka();
    const c = await openKafkaConsumer(client, { kind: 'topic', name: 't' }, options(5));
    const got: InboundMessage<KafkaEntry>[] = [];
    c.start({ deliver: (m) => void got.push(m), fail: (e) => { throw e; } });
    await batch(0, 20);
    await batch(20, 5);
    expect(got).toHaveLength(5);
    expect(calls.resolveOffset).toEqual(['19']);
    expect(calls.pause).toHaveLength(1);
    await c.close();
  });
});

describe('kafka consumer - pause and resume without a group', () => {
  test('batches - acks while kafkajs has no consumer group (after a crash, before run) do not throw from resume; the next join pauses only what is still held', async () => {
    const { client, calls, batch, state, join } = fakeKafka();
    const c = await openKafkaConsumer(client, { kind: 'topic', name: 't' }, options(5));
    const got: InboundMessage<KafkaEntry>[] = [];
    c.start({ deliver: (m) => void got.push(m), fail: (e) => { throw e; } });
    await batch(0, 20);
    expect(calls.pause).toHaveLength(1);
    state.hasGroup = false;
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => void uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      // Acking makes room: the buffer drains below prefetch and the partition is resumed.
      for (let round = 0; round < 5 && got.length < 20; round++) {
        for (const m of got.slice()) await c.ack(m.handle);
        await turn();
        await turn();
      }
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
    expect(got).toHaveLength(20);
    state.hasGroup = true;
    join();
    await turn();
    // The resume was skipped, and nothing is held for capacity any more: the join pauses nothing.
    expect(calls.pause).toHaveLength(1);
    await c.close();
  });
});

describe('kafka consumer - at-most-once', () => {
  test('batches - a partition paused while nothing took deliveries resumes once start() empties the buffer', async () => {
    const { client, calls, batch } = fakeKafka();
    const c = await openKafkaConsumer(client, { kind: 'topic', name: 't' }, { ...options(5), ackMode: 'at-most-once' });
    await batch(0, 20);
    await batch(20, 5);
    expect(calls.pause).toHaveLength(1);
    const got: InboundMessage<KafkaEntry>[] = [];
    c.start({ deliver: (m) => void got.push(m), fail: (e) => { throw e; } });
    expect(got).toHaveLength(20);
    expect(calls.resume).toHaveLength(1);
    await c.close();
  });
});

describe('kafka consumer - opening many at once', () => {
  test('start offsets - consumers opened together look offsets up one at a time (kafkajs admin metadata race)', async () => {
    let inFlight = 0;
    let most = 0;
    const admin = {
      fetchOffsets: async ({ topics }: { topics: string[] }) => [{ topic: topics[0], partitions: [{ partition: 0, offset: '-1' }] }],
      fetchTopicOffsets: async () => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        // What kafkajs does when another lookup's metadata refresh dropped this topic.
        if (most > 1) throw new TypeError("Cannot destructure property 'partitions' of 'low.pop(...)' as it is undefined.");
        return [{ partition: 0, offset: '0', high: '0', low: '0' }];
      },
    };
    const { client } = fakeKafka(admin);
    const opened = await Promise.all(Array.from({ length: 8 }, () => openKafkaConsumer(client, { kind: 'topic', name: 't' }, { ...options(5), from: 'earliest' })));
    expect(most).toBe(1);
    await Promise.all(opened.map((c) => c.close()));
  });
});
