import net from 'node:net';
import { backendByName, connect, SwitchboardError } from '@switchboard/core';
import { connectNats, driver } from '../src/index';

describe('driver - registry entry and connect path', () => {
  it('registry data - the same as core\'s backend entry for nats, with both variants', () => {
    expect(backendByName('nats')).toMatchObject(driver.info!);
    expect(driver.info?.variants?.map((v) => v.name)).toEqual(['nats-jetstream', 'nats-core']);
  });

  it('import - registers the three schemes, so connect() finds the driver without `drivers`', async () => {
    await expect(connect('nats+core://127.0.0.1:1?storage=tape')).rejects.toMatchObject({ code: 'configuration' });
  });

  it('connect - an unreachable server is a connection error within the connect timeout', async () => {
    const started = Date.now();
    const err = await connect('nats+core://127.0.0.1:1', { drivers: [driver], connectTimeoutMs: 2000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwitchboardError);
    expect((err as SwitchboardError).code).toBe('connection');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('connect timeout - connectTimeoutMs from the URL bounds a server that never answers', async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => void sockets.add(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const started = Date.now();
      const err = await connectNats(`nats://127.0.0.1:${port}?connectTimeoutMs=500`).catch((e: unknown) => e);
      expect((err as SwitchboardError).code).toBe('connection');
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
