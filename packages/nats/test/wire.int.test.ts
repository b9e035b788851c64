// Issue 14 (wire interop) and issue 15 items 2 and 7 against a live NATS server
// (SWITCHBOARD_TEST_NATS_URL): raw nats.js on one side, Switchboard on the other.
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { connect as natsConnect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, queue, topic, type Connection, type Delivery, type Logger } from '@switchboard/core';
import { connectNats, driver } from '../src/index';

const url = process.env.SWITCHBOARD_TEST_NATS_URL;
const coreUrl = url?.replace(/^nats:\/\//, 'nats+core://');
const suffix = () => randomUUID().slice(0, 8);
const enc = new TextEncoder();
const dec = new TextDecoder();

/** The first delivery of a fresh consumer, settled with `settle`; the connection closes after. */
async function takeOne(u: string, dest: ReturnType<typeof queue>, group: string, settle: (d: Delivery) => Promise<void>): Promise<Delivery> {
  const conn = await connectNats(u);
  try {
    const c = await conn.consumer(dest, { group, from: 'earliest' });
    for (let i = 0; i < 40; i++) {
      const [d] = await c.poll({ max: 1, waitMs: 250 });
      if (d) {
        await settle(d);
        return d;
      }
    }
    throw new Error('no delivery');
  } finally {
    await conn.close({ timeoutMs: 0 });
  }
}

(url ? describe : describe.skip)('wire interop - raw nats.js and Switchboard on one server', () => {
  let raw: NatsConnection;
  let conn: Connection;
  beforeAll(async () => {
    raw = await natsConnect({ servers: url!.replace(/^nats:\/\//, '') });
    conn = await connectNats(url!);
  });
  afterAll(async () => {
    await conn?.close();
    await raw?.close();
  });

  it('ids - core NATS: foreign messages without an id in three sessions get three different ids', async () => {
    const q = queue(`ix-core-${suffix()}`);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await connectNats(coreUrl!);
      const got = new Promise<Delivery>((resolve) => {
        void c.consumer(q).then((k) => k.consume(async (d) => resolve(d)));
      });
      await new Promise((r) => setTimeout(r, 200));
      raw.publish(`sb.q.${q.name}`, enc.encode(`anonymous ${i}`));
      ids.push((await got).id);
      await c.close({ timeoutMs: 0 });
    }
    expect(new Set(ids).size).toBe(3);
  });

  it('ids - JetStream: a foreign message keeps <stream>:<seq>:<created> across a nack and in every group; a stream made again gives new ids', async () => {
    const q = queue(`ix-ids-${suffix()}`);
    await conn.admin.ensureDestination(q);
    const js = jetstream(raw);
    await js.publish(`sb.q.${q.name}`, enc.encode('nacked once'));
    const first = await takeOne(url!, q, 'g', (d) => d.nack());
    const again = await takeOne(url!, q, 'g', (d) => d.ack());
    expect(again.id).toBe(first.id);
    expect(first.id).toMatch(new RegExp(`^SB_Q_${q.name.replace(/-/g, '-')}:1:[0-9a-z]+$`));
    await conn.admin.deleteDestination(q);
    await new Promise((r) => setTimeout(r, 5)); // another millisecond of creation time
    await conn.admin.ensureDestination(q);
    await js.publish(`sb.q.${q.name}`, enc.encode('after re-creation'));
    const later = await takeOne(url!, q, 'g', (d) => d.ack());
    expect(later.text()).toBe('after re-creation');
    expect(later.id).not.toBe(first.id);
    await conn.admin.deleteDestination(q);

    const t = topic(`ix-ids-${suffix()}`);
    await conn.admin.ensureDestination(t);
    await js.publish(`sb.t.${t.name}`, enc.encode('fan-out'));
    const [a, b] = await Promise.all([takeOne(url!, t, 'g1', (d) => d.ack()), takeOne(url!, t, 'g2', (d) => d.ack())]);
    expect(b.id).toBe(a.id);
    await conn.admin.deleteDestination(t);
  });

  it('request/reply - JetStream: `nats request` to a Switchboard responder gets its reply, never the PubAck', async () => {
    const q = queue(`ix-rr-${suffix()}`);
    const c = await conn.consumer(q);
    const h = c.consume((d) => d.respond(`sb answers ${d.text()}`));
    try {
      const h2 = natsHeaders();
      h2.set('x-tenant', 'acme');
      const reply = await raw.request(`sb.rq.${q.name}`, enc.encode('ping'), { timeout: 10_000, headers: h2 });
      expect(dec.decode(reply.data)).toBe('sb answers ping');
    } finally {
      await h.close();
      await conn.admin.deleteDestination(q);
    }
  });

  it('request/reply - JetStream: a Switchboard request is answered by a plain NATS responder on the reply subject', async () => {
    const q = queue(`ix-rr-${suffix()}`);
    await conn.admin.ensureDestination(q);
    const sub = raw.subscribe(`sb.rq.${q.name}`, { callback: (_e, m) => m.respond(enc.encode(`foreign answers ${dec.decode(m.data)}`)) });
    await raw.flush();
    try {
      const back = await conn.producer().request(q, 'pong', { timeoutMs: 10_000 });
      expect(back.text()).toBe('foreign answers pong');
    } finally {
      sub.unsubscribe();
      await conn.admin.deleteDestination(q);
    }
  });

  it('request/reply - JetStream: a request nobody listens for yet waits in the stream and is answered once a consumer comes', async () => {
    const q = queue(`ix-rr-${suffix()}`);
    await conn.admin.ensureDestination(q);
    const pending = conn.producer().request(q, 'later', { timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 500));
    const other = await connectNats(url!);
    const h = (await other.consumer(q)).consume((d) => d.respond(`late answer to ${d.text()}`));
    try {
      expect((await pending).text()).toBe('late answer to later');
    } finally {
      await h.close();
      await other.close();
      await conn.admin.deleteDestination(q);
    }
  });

  it('admin - listObjects shows the stream and each group consumer; deleteGroup and deleteDestination remove them', async () => {
    const t = topic(`ix-admin-${suffix()}`);
    for (const g of ['g1', 'g.two']) await (await conn.consumer(t, { group: g })).close();
    const names = (await conn.admin.listObjects(t)).map((o) => `${o.type}:${o.name}:${o.group ?? ''}`).sort();
    expect(names).toEqual([`consumer:g_g1:g1`, `consumer:g_g_2Etwo:g.two`, `stream:SB_T_${t.name}:`].sort());
    await conn.admin.deleteGroup(t, 'g1');
    expect((await conn.admin.listObjects(t)).map((o) => o.group)).toEqual([undefined, 'g.two']);
    await conn.admin.deleteGroup(t, 'g1'); // idempotent
    await conn.admin.deleteDestination(t);
    expect(await conn.admin.listObjects(t)).toEqual([]);
    const jsm = await jetstreamManager(raw);
    await expect(jsm.streams.info(`SB_T_${t.name}`)).rejects.toThrow();
  });

  it('diagnostics - a cut connection is reported lost (warn) and regained (info) through the logger and onError', async () => {
    const target = new URL(url!.replace(/^nats:/, 'http:'));
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 4222), target.hostname);
      sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const end = () => (client.destroy(), upstream.destroy());
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as net.AddressInfo).port;
    const lines: { level: string; fields: Record<string, unknown>; message?: string }[] = [];
    const record = (level: string) => (fields: object, message?: string) => void lines.push({ level, fields: fields as Record<string, unknown>, message });
    const logger: Logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
    const events: string[] = [];
    const c = await connect(`nats+core://127.0.0.1:${port}?reconnectTimeWaitMs=100`, { drivers: [driver], logger, onError: (e) => events.push(e.origin) });
    try {
      for (const s of sockets) s.destroy();
      sockets.clear();
      for (let i = 0; i < 100 && !lines.some((l) => l.level === 'info' && l.fields.origin === 'reconnect'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(lines.find((l) => l.level === 'warn' && l.fields.origin === 'reconnect')?.message).toMatch(/lost the connection/);
      expect(lines.find((l) => l.level === 'info' && l.fields.origin === 'reconnect')?.message).toMatch(/connected again/);
      expect(events.filter((e) => e === 'reconnect').length).toBeGreaterThanOrEqual(2);
    } finally {
      await c.close();
      proxy.close();
      for (const s of sockets) s.destroy();
    }
  });
});
