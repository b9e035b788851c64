// The node-redis clients of one connection, against a live server (SWITCHBOARD_TEST_REDIS_URL).
import { createClient } from '@redis/client';
import { queue } from '@switchboard/core';
import { connectRedis } from '../src/index';

const url = process.env.SWITCHBOARD_TEST_REDIS_URL;

(url ? describe : describe.skip)('clients - against a live Redis server', () => {
  test('clients - every client of a connection (commands, a consumer\'s reads, acks) has the one name, so node-redis builds its command classes once', async () => {
    const raw = createClient({ url: url!.replace(/\?.*$/, ''), RESP: 2 });
    await raw.connect();
    const conn = await connectRedis(url!, { prefix: `cl${Date.now()}` });
    try {
      const q = queue('clients');
      const consumer = await conn.consumer(q);
      await conn.producer().send(q, 'x');
      const [d] = await consumer.poll({ max: 1, waitMs: 5000 });
      await d!.ack();
      const list = String(await raw.sendCommand(['CLIENT', 'LIST']));
      const names = list
        .split('\n')
        .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1])
        .filter((n): n is string => n !== undefined && n.startsWith('switchboard'));
      // The command connection, the consumer's blocking reads and the acks connection, at least.
      expect(names.filter((n) => n === 'switchboard').length).toBeGreaterThanOrEqual(3);
      expect(names.filter((n) => n !== 'switchboard')).toEqual([]);
      await consumer.close();
    } finally {
      await conn.close();
      raw.destroy();
    }
  });
});
