// Issue 11, defect 4, against a live server (SWITCHBOARD_TEST_NATS_URL): every accepted name maps to
// its own stream / subject, and a name the server could not take is invalid_argument up front.
import { randomUUID } from 'node:crypto';
import { SwitchboardError, type Connection, type Consumer, type Delivery } from '@switchboard/core';
import { connectNats } from '../src/index';

const url = process.env.SWITCHBOARD_TEST_NATS_URL;
const suffix = () => randomUUID().slice(0, 8);

async function drain(c: Consumer, ms: number): Promise<string[]> {
  const out: string[] = [];
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const got: Delivery[] = await c.poll({ max: 10, waitMs: 500 });
    for (const d of got) {
      out.push(d.text());
      await d.ack();
    }
  }
  return out.sort();
}

(url ? describe : describe.skip)('names - against a live NATS server', () => {
  let js: Connection;
  let core: Connection;
  beforeAll(async () => {
    js = await connectNats(url!);
    core = await connectNats(url!.replace(/^nats:\/\//, 'nats+core://'));
  });
  afterAll(async () => {
    await js?.close();
    await core?.close();
  });

  test('names - a 104-character name whose stream name would pass 255 is invalid_argument before any round trip, not internal', async () => {
    const name = `${'a~'.repeat(28)}${'~'.repeat(48)}`;
    for (const call of [
      () => js.producer().send(name, 'x'),
      () => js.consumer(name),
      () => js.consumer(`topic:${name}`, { group: 'g' }),
      () => js.admin.ensureDestination(name),
      () => js.consumer(`topic:t${suffix()}`, { group: '.'.repeat(85) }),
    ]) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SwitchboardError);
      expect((err as SwitchboardError).code).toBe('invalid_argument');
      expect((err as SwitchboardError).message).toContain('255');
    }
  });

  test('names - the longest names that fit (a 255-character stream, a 255-character durable) work end to end', async () => {
    const s = suffix();
    const name = `${'~'.repeat(83 - s.length)}${s}a`;
    const group = '.'.repeat(84); // g_ + 84 * 3 = 254
    const c = await js.consumer(`topic:${name}`, { group, from: 'earliest' });
    try {
      await js.producer().send(`topic:${name}`, 'fits');
      expect(await drain(c, 3000)).toEqual(['fits']);
    } finally {
      await c.close();
      await js.admin.deleteDestination(`topic:${name}`);
    }
  });

  test('names - JetStream: x.y, x_y, x-y, Ab and ab are five queues', async () => {
    const s = suffix();
    const names = ['x.y', 'x_y', 'x-y', 'Ab', 'ab'].map((n) => `${n}${s}`);
    const consumers = await Promise.all(names.map((n) => js.consumer(n)));
    try {
      for (const n of names) await js.producer().send(n, n);
      for (const [i, c] of consumers.entries()) expect(await drain(c, 1500)).toEqual([names[i]]);
    } finally {
      await Promise.all(consumers.map((c) => c.close()));
      for (const n of names) await js.admin.deleteDestination(n);
    }
  }, 60_000);

  test('names - core NATS: queue:x and topic:x never cross', async () => {
    const x = `cross.${suffix()}`;
    const got: Record<string, string[]> = { queue: [], topic: [] };
    const q = (await core.consumer(`queue:${x}`)).consume((d) => void got.queue!.push(d.text()));
    const t = (await core.consumer(`topic:${x}`, { group: 'g' })).consume((d) => void got.topic!.push(d.text()));
    try {
      await core.producer().send(`queue:${x}`, 'to the queue');
      await core.producer().send(`topic:${x}`, 'to the topic');
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && (got.queue!.length < 1 || got.topic!.length < 1)) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
      expect(got).toEqual({ queue: ['to the queue'], topic: ['to the topic'] });
      const err = await core.producer().send(`topic:sb.q.${x}`, 'x').catch((e: unknown) => e);
      expect((err as SwitchboardError).code).toBe('invalid_argument');
    } finally {
      await q.close();
      await t.close();
    }
  });
});
