// Adapter-specific behaviour against a real endpoint (fauxqs from scripts/brokers, or AWS):
// FIFO queues and topics, emulated delays, SNS attribute pass-through, limits.
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { HEADERS, parseUrl, SwitchboardError, type Delivery } from '@switchboard/core';
import { connectSqs, resolveSqsOptions, type SqsConnection } from '@switchboard/sqs';

const url = process.env.SWITCHBOARD_TEST_SQS_URL;
const suffix = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** Polls (and acks) until nothing more arrives for `quietMs`; the bodies received. */
async function drainBodies(c: { poll: (o: { max: number; waitMs: number }) => Promise<Delivery[]> }, quietMs = 1500, limitMs = 15_000): Promise<string[]> {
  const out: string[] = [];
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    const got = await c.poll({ max: 10, waitMs: quietMs });
    if (got.length === 0) break;
    for (const d of got) {
      out.push(d.text());
      await d.ack();
    }
  }
  return out.sort();
}

async function pollUntil(c: { poll: (o: { max: number; waitMs: number }) => Promise<Delivery[]> }, n: number, ms: number): Promise<Delivery[]> {
  const out: Delivery[] = [];
  const deadline = Date.now() + ms;
  while (out.length < n && Date.now() < deadline) {
    const got = await c.poll({ max: 10, waitMs: 1000 });
    for (const d of got) {
      out.push(d);
      await d.ack();
    }
  }
  return out;
}

(url ? describe : describe.skip)('sqs - against a live endpoint', () => {
  let conn: SqsConnection;
  beforeAll(async () => {
    conn = await connectSqs(url!);
  });
  afterAll(async () => {
    await conn?.close();
  });

  it('fifo - keeps per-key order and drops a resent message id', async () => {
    const q = `int-fifo-${suffix()}.fifo`;
    const p = conn.producer();
    const msgs = Array.from({ length: 30 }, (_, i) => ({ id: `m-${i}`, key: `k${i % 3}`, body: String(i) }));
    await p.send(q, msgs);
    await p.send(q, { id: 'm-0', key: 'k0', body: 'duplicate' });
    const c = await conn.consumer(q);
    const got = await pollUntil(c, 30, 15_000);
    await new Promise((r) => setTimeout(r, 1200));
    got.push(...(await c.poll({ max: 10, waitMs: 0 })));
    expect(got.map((d) => d.id).filter((id) => id === 'm-0')).toHaveLength(1);
    for (const k of ['k0', 'k1', 'k2']) {
      const seq = got.filter((d) => d.key === k).map((d) => Number(d.text()));
      expect(seq).toEqual([...seq].sort((a, b) => a - b));
    }
    await c.close();
  });

  it('receipts - the destination is the bare name; delivery.receipt is the MessageId of the send', async () => {
    const q = `int-r-${suffix()}`;
    const receipt = await conn.producer().send(`queue:${q}`, 'r');
    expect(receipt).toMatchObject({ destination: q, confirmed: true });
    const c = await conn.consumer(q);
    const [d] = await pollUntil(c, 1, 10_000);
    expect(d!.receipt).toBe(receipt.brokerRef);
    expect(d!.destination).toBe(q);
    await c.close();
  });

  it('topics - carry binary bodies, headers and keys through SNS', async () => {
    const t = `topic:int-t-${suffix()}`;
    const c = await conn.consumer(t, { group: 'g' });
    const body = new Uint8Array([0, 0xff, 0xfe, 0x80, 10]);
    await conn.producer().send(t, { body, key: 'k-ü', headers: { a: '1', 'with space': 'x' } });
    const [d] = await pollUntil(c, 1, 10_000);
    expect([...d!.body]).toEqual([...body]);
    expect(d!.key).toBe('k-ü');
    expect(d!.headers).toEqual({ a: '1', 'with space': 'x' });
    await c.close();
  });

  it('delays - a topic message is held back by the consumer (emulated delay)', async () => {
    const t = `topic:int-d-${suffix()}`;
    const c = await conn.consumer(t, { group: 'g' });
    const sentAt = Date.now();
    await conn.producer().send(t, 'later', { delayMs: 2000 });
    const [d] = await pollUntil(c, 1, 15_000);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(1900);
    expect(d!.attempt).toBe(1);
    await c.close();
  });

  it('limits - too many headers and too-long delays are typed errors, nothing sent', async () => {
    const q = `int-l-${suffix()}`;
    const headers = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`h${i}`, 'v']));
    await expect(conn.producer().send(q, { body: 'x', headers })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(conn.producer().send(q, 'x', { delayMs: 901_000 })).rejects.toMatchObject({ code: 'invalid_argument' });
    const big = 'x'.repeat(262_144);
    const err = await conn.producer().send(q, big).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwitchboardError);
    expect((err as SwitchboardError).code).toBe('payload_too_large');
  });

  it('dead letters - an exhausted ack timeout is dead-lettered on receive with its headers', async () => {
    const q = `int-dl-${suffix()}`;
    const dlq = `${q}-dlq`;
    const c = await conn.consumer(q, { maxAttempts: 1, ackTimeoutMs: 1000 });
    await conn.producer().send(q, { body: 'x', headers: { h: 'v' } });
    const first = await c.poll({ max: 1, waitMs: 5000 });
    expect(first).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await c.poll({ max: 1, waitMs: 1000 })).toHaveLength(0);
    const d = await conn.consumer(dlq);
    const [dl] = await pollUntil(d, 1, 10_000);
    expect(dl!.headers.h).toBe('v');
    expect(dl!.headers[HEADERS.deadLetterAttempts]).toBe('1');
    expect(dl!.headers[HEADERS.deadLetterSource]).toBe(`queue:${q}`);
    await c.close();
    await d.close();
  });

  it('heartbeat - keeps a slow delivery invisible past its ack timeout', async () => {
    const hb = await connectSqs(url!, { heartbeat: true });
    try {
      const q = `int-hb-${suffix()}`;
      const c = await hb.consumer(q, { ackTimeoutMs: 1000 });
      await hb.producer().send(q, 'slow');
      const [d] = await c.poll({ max: 1, waitMs: 5000 });
      expect(d).toBeDefined();
      await new Promise((r) => setTimeout(r, 2500));
      expect(await c.poll({ max: 1, waitMs: 0 })).toHaveLength(0);
      await d!.ack();
      await c.close();
    } finally {
      await hb.close();
    }
  });

  it('names - queue:x.y, queue:x_y and queue:x-y never cross (issue 11, defect 4)', async () => {
    const base = `int-n-${suffix()}`;
    const names = [`${base}.y`, `${base}_y`, `${base}-y`];
    const consumers = await Promise.all(names.map((n) => conn.consumer(`queue:${n}`)));
    const p = conn.producer();
    for (const n of names) await p.send(`queue:${n}`, [`${n} 1`, `${n} 2`]);
    for (const [i, n] of names.entries()) expect(await drainBodies(consumers[i]!)).toEqual([`${n} 1`, `${n} 2`]);
    await Promise.all(consumers.map((c) => c.close()));
  });

  it('names - topics x.y and x_y, and the composites (a.b, c) and (a, b.c), never cross', async () => {
    const base = `int-nt-${suffix()}`;
    const subs: [string, string][] = [
      [`${base}.y`, 'g'],
      [`${base}_y`, 'g'],
      [`${base}.b`, 'c'],
      [base, 'b.c'],
      [base, 'b_c'],
    ];
    const consumers = await Promise.all(subs.map(([t, group]) => conn.consumer(`topic:${t}`, { group })));
    const p = conn.producer();
    for (const t of new Set(subs.map(([t]) => t))) await p.send(`topic:${t}`, t);
    for (const [i, [t]] of subs.entries()) expect(await drainBodies(consumers[i]!)).toEqual([t]);
    await Promise.all(consumers.map((c) => c.close()));
  });

  it('names - a queue named like a group queue, a reply queue or an encoded name is invalid_argument before any call', async () => {
    for (const name of ['events--billing', 'sb-reply-0123', 'x_y_dot1']) {
      await expect(conn.producer().send(`queue:${name}`, 'x')).rejects.toMatchObject({ code: 'invalid_argument' });
      await expect(conn.consumer(`queue:${name}`)).rejects.toMatchObject({ code: 'invalid_argument' });
    }
  });

  it('per-member options - two members of one queue keep their own ackTimeoutMs and maxAttempts; the queue gets neither', async () => {
    const q = `int-pm-${suffix()}`;
    const quick = await conn.consumer(q, { ackTimeoutMs: 1000, maxAttempts: 2, deadLetter: `${q}-dlq-quick` });
    const slow = await conn.consumer(q, { ackTimeoutMs: 8000, maxAttempts: 5, deadLetter: `${q}-dlq-slow` });
    const p = conn.producer();

    // The queue holds no member's settings: no redrive policy, the default visibility timeout.
    const o = resolveSqsOptions(parseUrl(url!));
    const sqs = new SQSClient({ region: o.region, endpoint: o.endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    try {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: q }));
      const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
      expect(Attributes?.RedrivePolicy).toBeUndefined();
      expect(Attributes?.VisibilityTimeout).toBe('30');
    } finally {
      sqs.destroy();
    }

    // ackTimeoutMs: quick's unacked delivery comes back after 1 s (to slow); slow's stays hidden for 8 s.
    await p.send(q, 'held');
    const [byQuick] = await quick.poll({ max: 1, waitMs: 5000 });
    expect(byQuick?.text()).toBe('held');
    const [bySlow] = await slow.poll({ max: 1, waitMs: 6000 });
    expect(bySlow?.text()).toBe('held');
    expect(bySlow?.attempt).toBe(2);
    expect(await quick.poll({ max: 1, waitMs: 3000 })).toHaveLength(0);
    await bySlow!.ack();

    // maxAttempts: quick dead-letters on its 2nd failed attempt; slow retries past it.
    await p.send(q, 'fails on quick');
    for (let attempt = 1; attempt <= 2; attempt++) {
      const [d] = await quick.poll({ max: 1, waitMs: 5000 });
      expect(d?.attempt).toBe(attempt);
      await d!.nack();
    }
    const dlqQuick = await conn.consumer(`${q}-dlq-quick`);
    const [dead] = await pollUntil(dlqQuick, 1, 10_000);
    expect(dead?.text()).toBe('fails on quick');
    expect(dead?.headers[HEADERS.deadLetterAttempts]).toBe('2');

    await p.send(q, 'retried by slow');
    for (let attempt = 1; attempt <= 3; attempt++) {
      const [d] = await slow.poll({ max: 1, waitMs: 5000 });
      expect(d?.text()).toBe('retried by slow');
      expect(d?.attempt).toBe(attempt);
      if (attempt < 3) await d!.nack();
      else await d!.ack();
    }
    const dlqSlow = await conn.consumer(`${q}-dlq-slow`);
    expect(await slow.poll({ max: 1, waitMs: 1500 })).toHaveLength(0);
    expect(await dlqSlow.poll({ max: 1, waitMs: 1000 })).toHaveLength(0);
    await Promise.all([quick, slow, dlqQuick, dlqSlow].map((c) => c.close()));
  });
});

const tlsUrl = process.env.SWITCHBOARD_TEST_SQS_TLS_URL;

(tlsUrl ? describe : describe.skip)('sqs - over https with a private CA', () => {
  it('tls - a pushing consumer receives over https: its receives, on sockets of their own, trust the ca of the URL too', async () => {
    const conn = await connectSqs(tlsUrl!);
    try {
      const q = `int-tls-${suffix()}`;
      const c = await conn.consumer(q, { prefetch: 1 });
      const got = new Promise<string>((resolve) => {
        void c.consume(async (d) => {
          await d.ack();
          resolve(d.text());
        });
      });
      await conn.producer().send(q, 'over tls', { confirm: true });
      await expect(got).resolves.toBe('over tls');
    } finally {
      await conn.close();
    }
  });
});
