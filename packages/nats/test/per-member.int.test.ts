// Issue 11, defect 3, against a live JetStream server (SWITCHBOARD_TEST_NATS_URL): the options of one
// member of a group never change what another member's deliveries get.
import { randomUUID } from 'node:crypto';
import { connect as natsConnect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstreamManager } from '@nats-io/jetstream';
import type { Connection, Consumer, Delivery } from '@switchboard/core';
import { connectNats, encodeName } from '../src/index';
import { backstopMs, RECHECK_FIRST_MS } from '../src/jetstream-consumer';

const url = process.env.SWITCHBOARD_TEST_NATS_URL;
const suffix = () => randomUUID().slice(0, 8);

/** Polls `c` until `n` deliveries arrived or `ms` passed; never acks. */
async function pollFor(c: Consumer, n: number, ms: number): Promise<Delivery[]> {
  const out: Delivery[] = [];
  const deadline = Date.now() + ms;
  while (out.length < n) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const got = await c.poll({ max: n - out.length, waitMs: Math.min(left, 1000) });
    out.push(...got);
    // A member at its prefetch answers at once: give timers (its ack deadlines) a turn.
    if (got.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  return out;
}

(url ? describe : describe.skip)('per-member options - JetStream group members keep their own options', () => {
  let conn: Connection;
  let raw: NatsConnection;
  beforeAll(async () => {
    conn = await connectNats(url!);
    raw = await natsConnect({ servers: url!.replace(/^nats:\/\//, '') });
  });
  afterAll(async () => {
    await conn?.close();
    await raw?.close();
  });

  const holdAndWatch = async (firstMs: number, secondMs: number) => {
    const q = `pm.${suffix()}`;
    const group = 'g';
    const first = await conn.consumer(q, { group, ackTimeoutMs: firstMs, prefetch: 1 });
    const second = await conn.consumer(q, { group, ackTimeoutMs: secondMs, prefetch: 1 });
    const slow = firstMs > secondMs ? first : second;
    const fast = firstMs > secondMs ? second : first;
    const p = conn.producer();
    try {
      // The 20 s member takes one message and holds it.
      await p.send(q, { id: 'held-by-slow', body: 'a' });
      const [held] = await pollFor(slow, 1, 10_000);
      expect(held?.id).toBe('held-by-slow');
      // The 1 s member watches for 6 s: the slow member's delivery must not come back.
      const early = await pollFor(fast, 1, 6000);
      expect(early.map((d) => d.id)).toEqual([]);
      // The 1 s member takes one and holds it: it comes back after about 1 s.
      await p.send(q, { id: 'held-by-fast', body: 'b' });
      const [mine] = await pollFor(fast, 1, 10_000);
      expect(mine?.id).toBe('held-by-fast');
      const again = await pollFor(fast, 1, 10_000);
      expect(again.map((d) => [d.id, d.attempt])).toEqual([['held-by-fast', 2]]);
      await again[0]!.ack();
      await held!.ack();
    } finally {
      await first.close();
      await second.close();
      await conn.admin.deleteDestination(q).catch(() => undefined);
    }
  };

  test('per-member options - the 20 s member joins first: a 1 s member joining changes nothing for its delivery', async () => {
    await holdAndWatch(20_000, 1000);
  }, 60_000);

  test('per-member options - the 1 s member joins first: a 20 s member joining does not stretch its deadline', async () => {
    await holdAndWatch(1000, 20_000);
  }, 60_000);

  test('per-member options - a member joining with maxAttempts 1 does not cut the attempts of a member with maxAttempts 5', async () => {
    const q = `pm.${suffix()}`;
    const group = 'g';
    const patient = await conn.consumer(q, { group, maxAttempts: 5, prefetch: 1 });
    const strict = await conn.consumer(q, { group, maxAttempts: 1, prefetch: 1 });
    try {
      await conn.producer().send(q, { id: 'm', body: 'x' });
      const attempts: number[] = [];
      for (let i = 0; i < 4; i++) {
        const [d] = await pollFor(patient, 1, 10_000);
        if (!d) break;
        attempts.push(d.attempt);
        await d.nack();
      }
      expect(attempts).toEqual([1, 2, 3, 4]);
      const [last] = await pollFor(patient, 1, 10_000);
      expect(last?.attempt).toBe(5);
      await last!.ack();
    } finally {
      await strict.close();
      await patient.close();
      await conn.admin.deleteDestination(q).catch(() => undefined);
    }
  }, 60_000);

  test('per-member options - the server consumer is a backstop that only grows, made independent of maxAttempts and prefetch', async () => {
    const t = `pm.${suffix()}`;
    const jsm = await jetstreamManager(raw);
    const stream = `SB_T_${encodeName(t)}`;
    const a = await conn.consumer(`topic:${t}`, { group: 'g', ackTimeoutMs: 40_000, maxAttempts: 2, prefetch: 3 });
    const b = await conn.consumer(`topic:${t}`, { group: 'g', ackTimeoutMs: 1000, maxAttempts: 9, prefetch: 500 });
    try {
      const cfg = (await jsm.consumers.info(stream, 'g_g')).config;
      expect(cfg.ack_wait).toBe(nanos(backstopMs(40_000)));
      expect(cfg.max_deliver).toBe(-1);
      expect(cfg.max_ack_pending).toBe(-1);
    } finally {
      await a.close();
      await b.close();
      await conn.admin.deleteDestination(`topic:${t}`).catch(() => undefined);
    }
  });

  test('per-member options - members joining at the same moment end with the largest backstop (a lost update is widened again)', async () => {
    const jsm = await jetstreamManager(raw);
    const conns = await Promise.all([0, 1, 2, 3].map(() => connectNats(url!)));
    const timeouts = [1000, 30_000, 10_000, 2000];
    try {
      for (let round = 0; round < 3; round++) {
        const t = `pm.${suffix()}`;
        const members = await Promise.all(conns.map((c, i) => c.consumer(`topic:${t}`, { group: 'g', ackTimeoutMs: timeouts[i] })));
        try {
          const stream = `SB_T_${encodeName(t)}`;
          const deadline = Date.now() + 10_000;
          let ackWait = 0;
          while (Date.now() < deadline) {
            ackWait = (await jsm.consumers.info(stream, 'g_g')).config.ack_wait ?? 0;
            if (ackWait === nanos(backstopMs(30_000))) break;
            await new Promise((r) => setTimeout(r, 200));
          }
          expect(ackWait).toBe(nanos(backstopMs(30_000)));
        } finally {
          await Promise.all(members.map((m) => m.close()));
          await conn.admin.deleteDestination(`topic:${t}`).catch(() => undefined);
        }
      }
    } finally {
      await Promise.all(conns.map((c) => c.close()));
    }
  }, 60_000);

  test('per-member options - a member whose create made the durable consumer checks it no more; a member joining an existing one checks it', async () => {
    const t = `pm.${suffix()}`;
    await conn.admin.ensureDestination(`topic:${t}`);
    // Every CONSUMER.INFO request on the group's durable consumer, as the server sees them.
    let infos = 0;
    const watch = raw.subscribe(`$JS.API.CONSUMER.INFO.SB_T_${encodeName(t)}.g_g`, { callback: () => void infos++ });
    await raw.flush();
    const settle = async () => {
      await new Promise((r) => setTimeout(r, RECHECK_FIRST_MS + 1500));
      await raw.flush();
    };
    const maker = await conn.consumer(`topic:${t}`, { group: 'g', ackTimeoutMs: 1000 });
    let joiner: Consumer | undefined;
    try {
      await raw.flush();
      const afterMaking = infos;
      expect(afterMaking).toBeGreaterThan(0); // the join read it (not found) before creating it
      await settle();
      expect(infos).toBe(afterMaking);
      joiner = await conn.consumer(`topic:${t}`, { group: 'g', ackTimeoutMs: 1000 });
      await raw.flush();
      const afterJoining = infos;
      await settle();
      expect(infos).toBeGreaterThan(afterJoining);
    } finally {
      watch.unsubscribe();
      await joiner?.close();
      await maker.close();
      await conn.admin.deleteDestination(`topic:${t}`).catch(() => undefined);
    }
  });

  test('per-member options - joining a durable consumer made by an older version (max_deliver, short ack_wait, max_ack_pending) widens it and never fails', async () => {
    const t = `pm.${suffix()}`;
    const jsm = await jetstreamManager(raw);
    await conn.admin.ensureDestination(`topic:${t}`);
    const stream = `SB_T_${encodeName(t)}`;
    await jsm.consumers.add(stream, { durable_name: 'g_old', ack_policy: AckPolicy.Explicit, ack_wait: nanos(1000), max_deliver: 3, max_ack_pending: 10_000 });
    await jsm.consumers.add(stream, { durable_name: 'g_backoff', ack_policy: AckPolicy.Explicit, max_deliver: 4, backoff: [nanos(1000), nanos(2000)] });
    const old = await conn.consumer(`topic:${t}`, { group: 'old', ackTimeoutMs: 10_000, from: 'earliest' });
    const backoff = await conn.consumer(`topic:${t}`, { group: 'backoff', ackTimeoutMs: 10_000, from: 'earliest' });
    try {
      const cfg = (await jsm.consumers.info(stream, 'g_old')).config;
      expect([cfg.ack_wait, cfg.max_deliver, cfg.max_ack_pending]).toEqual([nanos(backstopMs(10_000)), -1, -1]);
      await conn.producer().send(`topic:${t}`, { id: 'after', body: 'x' });
      for (const c of [old, backoff]) {
        const [d] = await pollFor(c, 1, 10_000);
        expect(d?.id).toBe('after');
        await d!.ack();
      }
    } finally {
      await old.close();
      await backoff.close();
      await conn.admin.deleteDestination(`topic:${t}`).catch(() => undefined);
    }
  });

  test('per-member options - extend past the backstop keeps the delivery with its member', async () => {
    const q = `pm.${suffix()}`;
    // A 1 s member first sets a backstop of 6 s; this member extends to 12 s and must keep it.
    const c = await conn.consumer(q, { group: 'g', ackTimeoutMs: 1000, prefetch: 1 });
    const watcher = await conn.consumer(q, { group: 'g', ackTimeoutMs: 1000, prefetch: 1 });
    try {
      await conn.producer().send(q, { id: 'long', body: 'x' });
      const [d] = await pollFor(c, 1, 10_000);
      await d!.extend(12_000);
      const seen = await pollFor(watcher, 1, 9000);
      expect(seen.map((x) => x.id)).toEqual([]);
      await d!.ack();
    } finally {
      await c.close();
      await watcher.close();
      await conn.admin.deleteDestination(q).catch(() => undefined);
    }
  }, 60_000);
});
