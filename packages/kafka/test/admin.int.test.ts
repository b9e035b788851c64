import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { connect, registerDriver, type Connection } from '@switchboard/core';
import { Kafka, logLevel } from 'kafkajs';
import { driver, groupId, kafkaTopic, retryTopic } from '@switchboard/kafka';

const url = process.env.SWITCHBOARD_TEST_KAFKA_URL;
const name = (p: string) => `sbt-${p}-${randomUUID().slice(0, 8)}`;

async function eventually(check: () => Promise<boolean>, ms = 15_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 300));
  }
  return check();
}

(url ? describe : describe.skip)('kafka - admin, reply cleanup and logs against a broker', () => {
  let conn: Connection;
  const admin = new Kafka({ brokers: [new URL((url || 'kafka://x:1').replace(/^kafka:/, 'http:')).host], logLevel: logLevel.NOTHING }).admin();
  const topics = async () => new Set(await admin.listTopics());
  const groups = async () => new Set((await admin.listGroups()).groups.map((g) => g.groupId));
  beforeAll(async () => {
    registerDriver(driver);
    conn = await connect(url!);
    await admin.connect();
  });
  afterAll(async () => {
    await conn?.close();
    await admin.disconnect();
  });

  test('admin - listObjects, deleteGroup and deleteDestination cover the topic, its sb.* groups and retry topics', async () => {
    const t = { kind: 'topic', name: name('adm') } as const;
    for (const g of ['g1', 'g.2']) {
      const c = await conn.consumer(t, { group: g, from: 'earliest' });
      await conn.producer().send(t, `for ${g}`);
      for (let i = 0; i < 60; i++) {
        const [d] = await c.poll({ max: 1, waitMs: 500 });
        if (d) {
          await d.nack(); // creates the group's retry topic
          break;
        }
      }
      await c.close();
    }
    const objects = await conn.admin.listObjects(t);
    expect(objects).toEqual(
      expect.arrayContaining([
        { type: 'topic', name: t.name },
        { type: 'consumer group', name: groupId(t, 'g1'), group: 'g1' },
        { type: 'consumer group', name: groupId(t, 'g.2'), group: 'g.2' },
        { type: 'retry topic', name: retryTopic(t, 'g1'), group: 'g1' },
        { type: 'retry topic', name: retryTopic(t, 'g.2'), group: 'g.2' },
      ]),
    );
    expect(objects).toHaveLength(5);

    await conn.admin.deleteGroup(t, 'g1');
    expect(await eventually(async () => !(await groups()).has(groupId(t, 'g1')) && !(await topics()).has(retryTopic(t, 'g1')))).toBe(true);
    expect((await groups()).has(groupId(t, 'g.2'))).toBe(true);
    await conn.admin.deleteGroup(t, 'g1'); // idempotent

    await conn.admin.deleteDestination(t);
    expect(
      await eventually(async () => {
        const [ts, gs] = [await topics(), await groups()];
        return !ts.has(t.name) && !ts.has(retryTopic(t, 'g.2')) && !gs.has(groupId(t, 'g.2'));
      }),
    ).toBe(true);
    expect(await conn.admin.listObjects(t)).toEqual([]);
  }, 90_000);

  test('admin - deleteDestination of a queue removes its topic, group and retry topic, and it stays deleted', async () => {
    const q = { kind: 'queue', name: name('admq') } as const;
    const c = await conn.consumer(q);
    await conn.producer().send(q, 'x');
    for (let i = 0; i < 60; i++) {
      const [d] = await c.poll({ max: 1, waitMs: 500 });
      if (d) {
        await d.nack();
        break;
      }
    }
    await c.close();
    await conn.admin.deleteDestination(q);
    // A later send elsewhere makes the producer refresh its metadata; the deleted topic must not come back.
    await conn.producer().send(name('other'), 'y');
    await new Promise((r) => setTimeout(r, 1000));
    const ts = await topics();
    expect(ts.has(kafkaTopic(q))).toBe(false);
    expect(ts.has(retryTopic(q, 'queue'))).toBe(false);
    expect((await groups()).has(groupId(q, 'queue'))).toBe(false);
  }, 90_000);

  test('request - a closed connection leaves no sb.reply topic and no sb-reply group behind', async () => {
    const q = { kind: 'queue', name: name('rq') } as const;
    const responder = await conn.consumer(q);
    const h = responder.consume((d) => d.respond('ok'));
    const [ts0, gs0] = [await topics(), await groups()];
    const requester = await connect(url!);
    await requester.producer().request(q, 'hi', { timeoutMs: 15_000 });
    const made = [...(await topics())].filter((x) => x.startsWith('sb.reply.') && !ts0.has(x));
    expect(made).toHaveLength(1);
    await requester.close();
    await conn.producer().send(name('other'), 'refresh'); // the responder's producer refreshes its metadata
    expect(
      await eventually(async () => {
        const [ts, gs] = [await topics(), await groups()];
        return ![...ts].some((x) => x.startsWith('sb.reply.') && !ts0.has(x)) && ![...gs].some((x) => x.startsWith('sb-reply.') && !gs0.has(x));
      }),
    ).toBe(true);
    await h.close();
    await responder.close();
    await conn.admin.deleteDestination(q);
  }, 60_000);

  test('admin - deleteGroup of a group whose consumer is still open fails with invalid_argument', async () => {
    const t = { kind: 'topic', name: name('busy') } as const;
    const c = await conn.consumer(t, { group: 'g' });
    await expect(conn.admin.deleteGroup(t, 'g')).rejects.toMatchObject({ code: 'invalid_argument' });
    await c.close();
    await conn.admin.deleteGroup(t, 'g');
    await conn.admin.deleteDestination(t);
    expect(await conn.admin.listObjects(t)).toEqual([]);
  }, 60_000);

  test('logs - kafkajs logs reach the connection logger, nothing is printed, no process warning', async () => {
    const lines: { level: string; fields: { namespace?: string } }[] = [];
    const at = (level: string) => (fields: object) => void lines.push({ level, fields: fields as { namespace?: string } });
    const warnings: Error[] = [];
    const onWarning = (w: Error) => void warnings.push(w);
    process.on('warning', onWarning);
    const out = jest.spyOn(process.stdout, 'write');
    const err = jest.spyOn(process.stderr, 'write');
    try {
      const c2 = await connect(`${url}${url!.includes('?') ? '&' : '?'}logLevel=info`, { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } });
      const q = { kind: 'queue', name: name('log') } as const;
      const c = await c2.consumer(q);
      await c2.producer().send(q, 'x');
      await c.close();
      await c2.admin.deleteDestination(q);
      await c2.close();
      expect(lines.some((l) => l.level === 'info' && typeof l.fields.namespace === 'string')).toBe(true);
      expect(out).not.toHaveBeenCalled();
      expect(err).not.toHaveBeenCalled();
      expect(warnings.map((w) => w.name)).toEqual([]);
    } finally {
      out.mockRestore();
      err.mockRestore();
      process.off('warning', onWarning);
    }
  }, 60_000);

  test('reconnect - a cut connection is reported lost (warn) and regained (info) through onError and the logger', async () => {
    const target = new URL(url!.replace(/^kafka:/, 'http:'));
    const sockets = new Set<net.Socket>();
    const listen = (port: number) => {
      const server = net.createServer((client) => {
        const upstream = net.connect(Number(target.port), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('error', () => undefined);
          s.on('close', () => sockets.delete(s));
        }
        client.pipe(upstream).pipe(client);
      });
      return new Promise<net.Server>((r) => server.listen(port, '127.0.0.1', () => r(server)));
    };
    let proxy = await listen(0);
    const port = (proxy.address() as net.AddressInfo).port;
    const events: { state?: string; origin: string }[] = [];
    const levels: string[] = [];
    const at = (level: string) => (_f: object, m?: string) => void (m?.includes('connect') && levels.push(`${level}: ${m}`));
    const c2 = await connect(`kafka://127.0.0.1:${port}?connectVia=bootstrap`, {
      onError: (e) => void events.push({ origin: e.origin, ...(e.state ? { state: e.state } : {}) }),
      logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: () => undefined },
    });
    try {
      const q = { kind: 'queue', name: name('cut') } as const;
      const c = await c2.consumer(q);
      await new Promise<void>((r) => {
        proxy.close(() => r());
        for (const s of sockets) s.destroy();
      });
      await eventually(async () => events.some((e) => e.state === 'lost'), 10_000);
      proxy = await listen(port);
      await c2.producer().send(q, 'after the cut');
      await eventually(async () => events.some((e) => e.state === 'regained'), 20_000);
      expect(events.filter((e) => e.origin === 'reconnect').map((e) => e.state)).toEqual(['lost', 'regained']);
      expect(levels.some((l) => l.startsWith('warn: kafka: lost the connection'))).toBe(true);
      expect(levels.some((l) => l.startsWith('info: kafka: connected'))).toBe(true);
      await c.close();
      await c2.admin.deleteDestination(q);
    } finally {
      await c2.close();
      proxy.close();
      for (const s of sockets) s.destroy();
    }
  }, 60_000);
});
