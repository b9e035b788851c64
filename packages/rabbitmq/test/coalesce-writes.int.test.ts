// Against the real broker (SWITCHBOARD_TEST_RABBITMQ_URL; skipped without it): the adapter's
// connections really coalesce their writes. coalesceWrites reaches into amqplib's connection for its
// socket (`connection.stream`); if a new amqplib moved it, the adapter would silently write frame by
// frame again, and this test fails instead.
import { Socket } from 'node:net';
import { parseUrl } from '@switchboard/core';
import { openModel } from '../src/link';
import { resolveRabbitOptions } from '../src/options';

const url = process.env.SWITCHBOARD_TEST_RABBITMQ_URL;

(url ? describe : describe.skip)('rabbitmq - coalesced writes against a broker', () => {
  it('coalesce writes - a connection the adapter opens has its socket writes coalesced, and publishes still arrive', async () => {
    const { endpoints, options } = resolveRabbitOptions(parseUrl(url!));
    const model = await openModel(endpoints, options, 10_000, 'test');
    try {
      const stream = (model.connection as unknown as { stream?: Socket }).stream;
      expect(stream).toBeInstanceOf(Socket);
      expect(stream!.write).not.toBe(Socket.prototype.write);
      const ch = await model.createConfirmChannel();
      const { queue } = await ch.assertQueue('', { exclusive: true });
      for (let i = 0; i < 50; i++) ch.sendToQueue(queue, Buffer.from(String(i)));
      await ch.waitForConfirms();
      const got: string[] = [];
      for (;;) {
        const m = await ch.get(queue, { noAck: true });
        if (m === false) break;
        got.push(m.content.toString());
      }
      expect(got).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    } finally {
      await model.close().catch(() => undefined);
    }
  });
});
