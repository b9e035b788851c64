import { backendByName, connect, SwitchboardError } from '@switchboard/core';
import { driver } from '../src/index';

describe('driver - registry entry and connect path', () => {
  it('describes itself with the built-in backend entry: schemes, port, package, variants', () => {
    const builtIn = backendByName('nats');
    expect(driver.info).toEqual(builtIn);
    expect(driver.info?.variants?.map((v) => v.name)).toEqual(['nats-jetstream', 'nats-core']);
  });

  it('rejects an unreachable server with a connection error within the connect timeout', async () => {
    const started = Date.now();
    let err: unknown;
    try {
      await connect('nats+core://127.0.0.1:1', { drivers: [driver], connectTimeoutMs: 2000 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SwitchboardError);
    expect((err as SwitchboardError).code).toBe('connection');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('rejects bad options with one configuration error before connecting', async () => {
    await expect(connect('nats://127.0.0.1:1?storage=tape', { drivers: [driver] })).rejects.toMatchObject({ code: 'configuration' });
  });
});
