import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { connectSqs, type SqsConnection } from '@switchboard/sqs';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

interface Stored {
  id: string;
  body: string;
  receipt: string;
}

/**
 * A small stand-in for SQS (JSON protocol): one in-memory list per queue; ReceiveMessage answers at
 * once when messages are there and otherwise holds the request until a message arrives or the test
 * lets it go (never by a timer, so nothing here depends on time). It counts calls by name and
 * entries per batch call, and notes how many receives were in flight when each send arrived.
 */
async function fakeSqs() {
  const queues = new Map<string, Stored[]>();
  const held = new Set<{ queue: string; max: number; answer: (m: Stored[]) => void; aborted: boolean }>();
  const calls = new Map<string, number>();
  const entries = new Map<string, number>();
  const receivesInFlightAtSend: number[] = [];
  const changedVisibility: string[] = [];
  const waits: number[] = [];
  let abortedReceives = 0;
  const inFlightChanged = new Set<() => void>();
  const notify = () => {
    for (const f of inFlightChanged) f();
  };

  const take = (queue: string, max: number) => (queues.get(queue) ?? []).splice(0, max);
  const feed = (queue: string) => {
    for (const h of held) {
      if (h.queue !== queue || !(queues.get(queue)?.length ?? 0)) continue;
      held.delete(h);
      h.answer(take(queue, h.max));
    }
    notify();
  };
  const asMessages = (ms: Stored[]) => ms.map((m) => ({ MessageId: m.id, ReceiptHandle: m.receipt, Body: m.body, MD5OfBody: md5(m.body), Attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()) } }));

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const action = String(req.headers['x-amz-target'] ?? '').replace(/^AmazonSQS\./, '');
      const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
      calls.set(action, (calls.get(action) ?? 0) + 1);
      const list = body.Entries as Record<string, unknown>[] | undefined;
      if (list) entries.set(action, (entries.get(action) ?? 0) + list.length);
      const reply = (o: unknown) => {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify(o));
      };
      const queue = String(body.QueueUrl ?? body.QueueName ?? '').split('/').pop()!;
      switch (action) {
        case 'GetQueueUrl':
        case 'CreateQueue':
          if (!queues.has(queue)) queues.set(queue, []);
          return reply({ QueueUrl: `http://127.0.0.1/000000000000/${queue}` });
        case 'SendMessageBatch': {
          receivesInFlightAtSend.push(held.size);
          const q = queues.get(queue) ?? [];
          queues.set(queue, q);
          const ok = list!.map((e) => {
            const m = { id: randomUUID(), body: String(e.MessageBody), receipt: randomUUID() };
            q.push(m);
            return { Id: e.Id, MessageId: m.id, MD5OfMessageBody: md5(m.body) };
          });
          reply({ Successful: ok, Failed: [] });
          return feed(queue);
        }
        case 'ReceiveMessage': {
          const max = Number(body.MaxNumberOfMessages ?? 1);
          waits.push(Number(body.WaitTimeSeconds ?? 0));
          const now = take(queue, max);
          if (now.length) return reply({ Messages: asMessages(now) });
          const h = { queue, max, aborted: false, answer: (ms: Stored[]) => reply({ Messages: asMessages(ms) }) };
          held.add(h);
          res.on('close', () => {
            if (!res.writableFinished && held.delete(h)) {
              abortedReceives++;
              notify();
            }
          });
          return notify();
        }
        case 'DeleteMessageBatch':
          return reply({ Successful: list!.map((e) => ({ Id: e.Id })), Failed: [] });
        case 'ChangeMessageVisibilityBatch':
          for (const e of list!) changedVisibility.push(String(e.ReceiptHandle));
          reply({ Successful: list!.map((e) => ({ Id: e.Id })), Failed: [] });
          return notify();
        default:
          return reply({});
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: (params: string) => `sqs+http://127.0.0.1:${port}?region=us-east-1&${params}`,
    calls,
    entries,
    receivesInFlightAtSend,
    changedVisibility,
    waits,
    /** Answers every held receive with nothing (its wait ran out). */
    answerHeldEmpty(): void {
      for (const h of held) {
        held.delete(h);
        h.answer([]);
      }
    },
    /** Answers the first `n` receives of a one-receive consumer with nothing, each once it is held. */
    async answerFirstReceivesEmpty(n: number): Promise<void> {
      for (let i = 1; i <= n; i++) {
        await this.until(() => waits.length === i && held.size === 1);
        this.answerHeldEmpty();
      }
    },
    /** Queues a message as if another client had sent it, answering a held receive. */
    put(queue: string, body: string): void {
      queues.get(queue)!.push({ id: randomUUID(), body, receipt: randomUUID() });
      feed(queue);
    },
    get abortedReceives() {
      return abortedReceives;
    },
    get receivesHeld() {
      return held.size;
    },
    /** Resolves once `cond` holds (checked whenever a receive starts, ends or is answered, and on visibility changes). */
    until(cond: () => boolean): Promise<void> {
      return new Promise((resolve) => {
        const check = () => {
          if (!cond()) return;
          inFlightChanged.delete(check);
          resolve();
        };
        inFlightChanged.add(check);
        check();
      });
    },
    /** Answers every held receive with one message of its own (as if one had just arrived). */
    answerHeld(): string[] {
      const receipts: string[] = [];
      for (const h of held) {
        held.delete(h);
        const m = { id: randomUUID(), body: 'late', receipt: randomUUID() };
        receipts.push(m.receipt);
        h.answer([m]);
      }
      return receipts;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Consumes with a handler that records each body and acks; the bodies in arrival order. */
function collectBodies(c: Awaited<ReturnType<SqsConnection['consumer']>>): string[] {
  const bodies: string[] = [];
  void c.consume(async (d) => {
    bodies.push(d.text());
    await d.ack();
  });
  return bodies;
}

describe('receive lanes - idle consumers, sends and close', () => {
  let fake: Awaited<ReturnType<typeof fakeSqs>>;
  let conn: SqsConnection | undefined;
  beforeEach(async () => {
    fake = await fakeSqs();
  });
  afterEach(async () => {
    await conn?.close({ timeoutMs: 1000 });
    conn = undefined;
    await fake.close();
  });

  it('receive lanes - an idle consumer holds one receive, and a send does not wait behind the long polls', async () => {
    // Two sockets for sends and admin; the five consumers' long polls must not take them.
    conn = await connectSqs(fake.url('maxSockets=2&receiveWaitSeconds=20'));
    const K = 5;
    for (let i = 0; i < K; i++) {
      const c = await conn.consumer(`idle-${i}`, { prefetch: 256 });
      void c.consume(async (d) => d.ack());
    }
    await fake.until(() => fake.receivesHeld >= K);
    await conn.producer().send('other', 'probe', { confirm: true });
    // Every consumer was still long-polling when the send arrived, each with one receive (of 8 lanes).
    expect(fake.receivesInFlightAtSend).toEqual([K]);
    expect(fake.calls.get('ReceiveMessage')).toBe(K);
  });

  it('receive lanes - closing a consumer does not wait for its long poll; what the poll brings later is made visible again', async () => {
    conn = await connectSqs(fake.url('receiveWaitSeconds=20&minRedeliverySeconds=0'));
    const c = await conn.consumer('closing', { prefetch: 10 });
    const handled = collectBodies(c);
    await fake.until(() => fake.receivesHeld === 1);
    // The fake never answers on its own: close resolving here means it did not wait for the poll.
    await c.close();
    const receipts = fake.answerHeld();
    expect(receipts).toHaveLength(1);
    await fake.until(() => fake.changedVisibility.length === 1);
    expect(fake.changedVisibility).toEqual(receipts);
    expect(handled).toEqual([]);
  });

  it('receive lanes - after an empty receive an idle consumer waits 20 s, as a plain long-poll loop; a message brings it back', async () => {
    conn = await connectSqs(fake.url('receiveWaitSeconds=1'));
    const c = await conn.consumer('waits', { prefetch: 256 });
    const got = collectBodies(c);
    await fake.answerFirstReceivesEmpty(3);
    await fake.until(() => fake.waits.length === 4 && fake.receivesHeld === 1);
    fake.put('waits', 'hello');
    await fake.until(() => fake.waits.length === 5);
    expect(fake.waits).toEqual([1, 20, 20, 20, 1]);
    expect(got).toEqual(['hello']);
  });

  it("receive lanes - an idle consumer's waits stop a second and more inside requestTimeoutMs", async () => {
    conn = await connectSqs(fake.url('receiveWaitSeconds=1&requestTimeoutMs=8000'));
    const c = await conn.consumer('short-timeout', { prefetch: 1 });
    void c.consume(async (d) => d.ack());
    await fake.answerFirstReceivesEmpty(2);
    await fake.until(() => fake.waits.length === 3);
    // 8 s requests: a wait of 8 would be cut off by the timeout with the poll still open on the server.
    expect(fake.waits).toEqual([1, 6, 6]);
  });

  it("receive lanes - a delivery whose visibility ran out under a stuck handler keeps its slot a second longer, so another member's waiting receive gets the message first", async () => {
    // Only Date is faked: the consumer's visibility deadlines follow it, its timers run for real.
    jest.useFakeTimers({
      now: Date.now(),
      doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'],
    });
    try {
      conn = await connectSqs(fake.url('receiveWaitSeconds=20'));
      const c = await conn.consumer('stuck', { prefetch: 1, ackTimeoutMs: 1000 });
      let delivered = 0;
      void c.consume(() => {
        delivered++;
        return new Promise<void>(() => undefined);
      });
      await fake.until(() => fake.receivesHeld === 1);
      fake.put('stuck', 'held forever');
      while (delivered === 0) await new Promise((r) => setTimeout(r, 10));
      const receives = fake.calls.get('ReceiveMessage');
      expect(fake.receivesHeld).toBe(0);
      // Past the 1 s visibility, inside the hand-back second: the consumer looks every 250 ms and must not ask.
      jest.setSystemTime(Date.now() + 1500);
      await new Promise((r) => setTimeout(r, 700));
      expect(fake.calls.get('ReceiveMessage')).toBe(receives);
      // After it: the slot is free again and the consumer receives.
      jest.setSystemTime(Date.now() + 1000);
      await fake.until(() => fake.receivesHeld === 1);
      expect(fake.calls.get('ReceiveMessage')).toBe(receives! + 1);
    } finally {
      jest.useRealTimers();
    }
  });

  it('requests per message - 200 messages: 20 send calls, at least 5 messages per receive and per delete call', async () => {
    conn = await connectSqs(fake.url('receiveWaitSeconds=20'));
    const n = 200;
    const producer = conn.producer();
    for (let b = 0; b < n / 100; b++) await producer.send('busy', Array.from({ length: 100 }, (_, i) => `m${b * 100 + i}`), { confirm: true });
    const c = await conn.consumer('busy', { prefetch: 256 });
    let acked = 0;
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    void c.consume(
      async (d) => {
        await d.ack();
        if (++acked === n) done();
      },
      { concurrency: 256 },
    );
    await all;
    await c.close();
    const sends = fake.calls.get('SendMessageBatch') ?? 0;
    const receives = fake.calls.get('ReceiveMessage') ?? 0;
    const deletes = fake.calls.get('DeleteMessageBatch') ?? 0;
    // Logged so a run shows the batching ratios (messages per call).
    console.log(`requests per message: send ${n / sends} msgs/call, receive ${n / receives} msgs/call (${receives} calls, idle polls included), delete ${n / deletes} msgs/call`);
    expect(sends).toBe(n / 10);
    expect(fake.entries.get('SendMessageBatch')).toBe(n);
    expect(fake.entries.get('DeleteMessageBatch')).toBe(n);
    expect(deletes).toBeLessThanOrEqual(n / 5);
    expect(receives).toBeLessThanOrEqual(n / 5);
  });
});
