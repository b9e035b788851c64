import net from 'node:net';
import { backendByName, connect, SwitchboardError } from '@switchboard/core';
import { connectKafka, driver } from '@switchboard/kafka';

describe('driver - registration and connect', () => {
  test('registry data - the same as core\'s backend entry for kafka', () => {
    const b = backendByName('kafka');
    expect(driver.name).toBe('kafka');
    expect(driver.schemes).toEqual(['kafka']);
    expect(driver.info).toMatchObject({ name: b!.name, displayName: b!.displayName, package: b!.package, defaultPort: 9092 });
  });

  test('import - registers kafka:// so connect() finds it; bad options fail with every problem before connecting', async () => {
    const err = await connect('kafka://127.0.0.1:1?partitions=0&nope=1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwitchboardError);
    expect((err as SwitchboardError).code).toBe('configuration');
    expect((err as SwitchboardError).message).toMatch(/partitions/);
    expect((err as SwitchboardError).message).toMatch(/nope/);
  });

  test('connectKafka - typed options are validated like URL options', async () => {
    await expect(connectKafka({ brokers: ['127.0.0.1:1'], heartbeatIntervalMs: 20_000 })).rejects.toMatchObject({ code: 'configuration' });
  });

  test('connect timeout - connectTimeoutMs from the URL bounds a broker that never answers', async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => void sockets.add(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const t0 = Date.now();
      const err = await connect(`kafka://127.0.0.1:${port}?connectTimeoutMs=500`).catch((e: unknown) => e);
      expect((err as SwitchboardError).code).toBe('connection');
      expect(Date.now() - t0).toBeLessThan(3000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
