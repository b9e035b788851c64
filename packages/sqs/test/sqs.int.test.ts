// Adapter-specific behaviour against a real endpoint (fauxqs from scripts/brokers, or AWS):
// FIFO queues and topics, emulated delays, SNS attribute pass-through, limits.
import { HEADERS, SwitchboardError, type Delivery } from '@switchboard/core';
import { connectSqs, type SqsConnection } from '@switchboard/sqs';

const url = process.env.SWITCHBOARD_TEST_SQS_URL;
const suffix = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

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
});
