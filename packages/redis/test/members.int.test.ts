// Members of a group against a live server (SWITCHBOARD_TEST_REDIS_URL): each member is a consumer of
// the group from the start, so an entry one member gives back goes to another live member first.
import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import { queue, type Connection } from '@switchboard/core';
import { connectRedis } from '../src/index';

const url = process.env.SWITCHBOARD_TEST_REDIS_URL;

(url ? describe : describe.skip)('members - against a live Redis server', () => {
  const prefix = `mb${randomUUID().slice(0, 8)}`;
  const raw = createClient({ url: url?.replace(/\?.*$/, ''), RESP: 2 });
  let conn: Connection;

  beforeAll(async () => {
    await raw.connect();
    conn = await connectRedis(url!, { prefix });
  });
  afterAll(async () => {
    await conn?.close().catch(() => undefined);
    const keys = (await raw.sendCommand(['KEYS', `${prefix}:*`])) as string[];
    if (keys.length > 0) await raw.sendCommand(['DEL', ...keys]);
    raw.destroy();
  });

  test('members - a member that has read nothing yet is already a consumer of the group; a nacked entry goes to the other member', async () => {
    const q = queue('nack-moves');
    const handled: { member: string; attempt: number }[] = [];
    const member = async (name: string) =>
      (await conn.consumer(q, { prefetch: 1 })).consume(async (d) => {
        handled.push({ member: name, attempt: d.attempt });
        if (d.attempt === 1) await d.nack();
        else await d.ack();
      });
    const handles = [await member('a'), await member('b')];
    try {
      const consumers = (await raw.sendCommand(['XINFO', 'CONSUMERS', `${prefix}:q:nack-moves`, 'sb'])) as unknown[][];
      expect(consumers).toHaveLength(2);
      await conn.producer().send(q, [{ body: 'once' }], { confirm: true });
      while (handled.length < 2) await new Promise((r) => setTimeout(r, 50));
      expect(handled.map((h) => h.attempt)).toEqual([1, 2]);
      expect(handled[1]!.member).not.toBe(handled[0]!.member);
    } finally {
      await Promise.all(handles.map((h) => h.close()));
    }
  });
});
