// Sends against a live server (SWITCHBOARD_TEST_REDIS_URL): how a batch reaches Redis, watched
// with MONITOR, and what a failed batch reports.
import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import { queue, SwitchboardError, topic, type Connection } from '@switchboard/core';
import { connectRedis } from '../src/index';

const url = process.env.SWITCHBOARD_TEST_REDIS_URL;

(url ? describe : describe.skip)('sends - against a live Redis server', () => {
  const prefix = `sn${randomUUID().slice(0, 8)}`;
  const plainUrl = url?.replace(/\?.*$/, '');
  const raw = createClient({ url: plainUrl, RESP: 2 });
  const watcher = createClient({ url: plainUrl, RESP: 2 });
  const opened: Connection[] = [];
  const open = async (options: { retentionMs?: number } = {}) => {
    const c = await connectRedis(url!, { prefix, ...options });
    opened.push(c);
    return c;
  };

  beforeAll(async () => {
    await Promise.all([raw.connect(), watcher.connect()]);
  });
  afterAll(async () => {
    for (const c of opened) await c.close().catch(() => undefined);
    const keys = (await raw.sendCommand(['KEYS', `${prefix}:*`])) as string[];
    if (keys.length > 0) await raw.sendCommand(['DEL', ...keys]);
    raw.destroy();
    watcher.destroy();
  });

  /**
   * The commands Redis ran that name `key` while `work` ran, as MONITOR shows them: from clients
   * (each transaction's as one list, MULTI to EXEC) and from scripts (MONITOR's "lua").
   */
  const watch = async (key: string, work: () => Promise<unknown>) => {
    const lines: string[] = [];
    await watcher.monitor((line: string) => {
      if (line.includes(`"${key}"`) || /"(multi|exec)"/i.test(line)) lines.push(line);
    });
    await work();
    // MONITOR lines arrive after the replies: wait for a marker sent after the work.
    await raw.sendCommand(['EXISTS', key]);
    for (let i = 0; i < 100 && !lines.some((l) => /"EXISTS"/i.test(l)); i++) await new Promise((r) => setTimeout(r, 10));
    await watcher.reset();
    const name = (l: string) => /"([A-Za-z]+)"/.exec(l)![1]!.toUpperCase();
    const fromClients = lines.filter((l) => !/\[\d+ lua\]/.test(l) && !/"EXISTS"/i.test(l)).map(name);
    const transactions: string[][] = [];
    let open: string[] | undefined;
    for (const c of fromClients) {
      if (c === 'MULTI') transactions.push((open = []));
      else if (c === 'EXEC') open = undefined;
      else open?.push(c);
    }
    return {
      fromClients: fromClients.filter((c) => c !== 'MULTI' && c !== 'EXEC'),
      transactions,
      fromScripts: lines.filter((l) => /\[\d+ lua\]/.test(l)).map(name),
    };
  };

  test('sends - a batch reaches Redis as one transaction: MULTI, a plain XADD per message in order, EXEC', async () => {
    const c = await open();
    const q = queue('batch');
    await c.admin.ensureDestination(q);
    const stream = `${prefix}:q:batch`;
    const bodies = Array.from({ length: 100 }, (_, i) => `m${i}`);
    let refs: string[] = [];
    const seen = await watch(stream, async () => {
      refs = (await c.producer().send(q, bodies)).map((r) => r.brokerRef!);
    });
    expect(seen.transactions).toEqual([bodies.map(() => 'XADD')]);
    expect(seen.fromScripts).toEqual([]);
    const entries = (await raw.sendCommand(['XRANGE', stream, '-', '+'])) as [string, string[]][];
    expect(entries.map(([id]) => id)).toEqual(refs);
    expect(entries.map(([, f]) => f[f.indexOf('body') + 1])).toEqual(bodies);
  });

  test('sends - a batch with a message of very many headers keeps the order given: entries, and a receipt per message in place', async () => {
    const c = await open();
    const q = queue('mixed');
    await c.admin.ensureDestination(q);
    const many = Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`x-h${i}`, 'v']));
    const receipts = await c.producer().send(q, ['a', 'b', { body: 'big', headers: many }, 'c']);
    const entries = (await raw.sendCommand(['XRANGE', `${prefix}:q:mixed`, '-', '+'])) as [string, string[]][];
    expect(entries.map(([, f]) => f[f.indexOf('body') + 1])).toEqual(['a', 'b', 'big', 'c']);
    expect(entries[2]![1].filter((f) => f.startsWith('h:x-h'))).toHaveLength(600);
    expect(receipts.map((r) => r.brokerRef)).toEqual(entries.map(([id]) => id));
  });

  test('sends - a confirmed send names a message without an id by its entry: no sb-id stored, the receipt id is the entry id and so is the delivery id', async () => {
    const c = await open();
    const q = queue('named');
    await c.admin.ensureDestination(q);
    const p = c.producer();
    const receipts = await p.send(q, ['a', { id: 'given', body: 'b' }]);
    const loose = await p.send(q, 'c', { confirm: false });
    const single = await p.send(q, 'd');
    const entries = (await raw.sendCommand(['XRANGE', `${prefix}:q:named`, '-', '+'])) as [string, string[]][];
    const idOf = (f: string[]) => (f.includes('sb-id') ? f[f.indexOf('sb-id') + 1] : undefined);
    expect(entries.map(([, f]) => idOf(f))).toEqual([undefined, 'given', loose.id, undefined]);
    expect(receipts.map((r) => r.id)).toEqual([entries[0]![0], 'given']);
    expect(single.id).toBe(entries[3]![0]);
    const consumer = await c.consumer(q);
    const got = await consumer.poll({ max: 4, waitMs: 5000 });
    expect(got.map((d) => d.id)).toEqual([receipts[0]!.id, 'given', loose.id, single.id]);
    for (const d of got) await d.ack();
    await consumer.close();
  });

  test('sends - a delayed batch: every message waits, none is on the stream yet, each has a receipt', async () => {
    const c = await open();
    const q = queue('later');
    await c.admin.ensureDestination(q);
    const receipts = await c.producer().send(q, ['x', 'y'], { delayMs: 60_000 });
    expect(receipts.map((r) => r.brokerRef)).toEqual([expect.stringMatching(/^delayed:/), expect.stringMatching(/^delayed:/)]);
    expect(await raw.sendCommand(['XLEN', `${prefix}:q:later`])).toBe(0);
  });

  test('sends - one message goes as a plain XADD', async () => {
    const c = await open();
    const q = queue('single');
    await c.admin.ensureDestination(q);
    const seen = await watch(`${prefix}:q:single`, () => c.producer().send(q, 'one'));
    expect(seen.fromClients).toEqual(['XADD']);
  });

  test('sends - a batch Redis refuses fails every message of it with the classified error, and no receipt', async () => {
    const c = await open();
    await raw.sendCommand(['SET', `${prefix}:q:wrong`, 'not a stream']);
    const err = await c.producer().send(queue('wrong'), ['a', 'b', 'c']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwitchboardError);
    expect((err as SwitchboardError).code).toBe('invalid_argument');
    expect((err as SwitchboardError).message).toMatch(/WRONGTYPE/);
    expect((err as SwitchboardError).details.receipts).toEqual([]);
  });

  test('sends - a batch to a topic with a retention trims entries older than it, as a single send does', async () => {
    const c = await open({ retentionMs: 60_000 });
    const stream = `${prefix}:t:kept`;
    for (let i = 1; i <= 250; i++) await raw.sendCommand(['XADD', stream, `1000-${i}`, 'body', 'old']);
    await c.producer().send(topic('kept'), ['x', 'y', 'z']);
    const ids = ((await raw.sendCommand(['XRANGE', stream, '-', '+'])) as [string, string[]][]).map(([id]) => id);
    expect(ids.filter((id) => id.startsWith('1000-')).length).toBeLessThan(250);
    expect(ids.filter((id) => !id.startsWith('1000-'))).toHaveLength(3);
  });
});
