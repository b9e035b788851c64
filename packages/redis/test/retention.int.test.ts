// Topic retention against a live server (SWITCHBOARD_TEST_REDIS_URL): a send to a topic trims its
// stream by entry time (XADD MINID ~), from the connection option or the topic's own retention.
import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import { topic, type Connection } from '@switchboard/core';
import { connectRedis } from '../src/index';

const url = process.env.SWITCHBOARD_TEST_REDIS_URL;
const OLD = 250;

(url ? describe : describe.skip)('retention - against a live Redis server', () => {
  const prefix = `rt${randomUUID().slice(0, 8)}`;
  const raw = createClient({ url: url?.replace(/\?.*$/, ''), RESP: 2 });
  const opened: Connection[] = [];
  const open = async (options: { retentionMs?: number } = {}) => {
    const c = await connectRedis(url!, { prefix, ...options });
    opened.push(c);
    return c;
  };
  /** Puts OLD entries from 1970 (ids 1000-1 ...) on topic `name`'s stream, then sends one message. */
  const oldThenSend = async (c: Connection, name: string) => {
    const stream = `${prefix}:t:${name}`;
    for (let i = 1; i <= OLD; i++) await raw.sendCommand(['XADD', stream, `1000-${i}`, 'body', 'old']);
    await c.producer().send(topic(name), [{ body: 'new' }], { confirm: true });
    const ids = (await raw.sendCommand(['XRANGE', stream, '-', '+'])) as [string, string[]][];
    return { old: ids.filter(([id]) => id.startsWith('1000-')).length, total: ids.length };
  };

  beforeAll(async () => {
    await raw.connect();
  });
  afterAll(async () => {
    for (const c of opened) await c.close().catch(() => undefined);
    const keys = (await raw.sendCommand(['KEYS', `${prefix}:*`])) as string[];
    if (keys.length > 0) await raw.sendCommand(['DEL', ...keys]);
    raw.destroy();
  });

  test('retention - without a retention a topic keeps every entry', async () => {
    const c = await open();
    expect(await oldThenSend(c, 'keep')).toEqual({ old: OLD, total: OLD + 1 });
  });

  test('retention - with the retentionMs option a send trims the entries older than it (whole stream nodes), keeping the new one', async () => {
    const c = await open({ retentionMs: 60_000 });
    const { old, total } = await oldThenSend(c, 'opt');
    expect(old).toBeLessThan(OLD);
    expect(total).toBe(old + 1);
  });

  test('retention - ensureDestination({ retentionMs }) sets a topic\'s own retention, which another connection\'s sends apply', async () => {
    const admin = await open();
    await admin.admin.ensureDestination(topic('own'), { retentionMs: 60_000 });
    const other = await open();
    const { old } = await oldThenSend(other, 'own');
    expect(old).toBeLessThan(OLD);
  });
});
